// A user's own pretrained network (a torchvision or timm model exported to ONNX, or one of ours) as the backbone
// of phases 2 and 3: onnxruntime-node runs it over a data set in batches and returns one embedding row per
// image from the named output. The graph it runs is the model behind the input transform (and a resize to
// --input-size), raw pixels in: the very graph `eos run --backbone` then joins to its head and serves. Everything
// that can be checked before the long pass is: the file, the input's rank, channels and side against the data,
// the output's rank; during the pass every row must be finite.
import { readFileSync, statSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { INFERENCE_BATCH } from '../defaults.js';
import { type BackboneGraph, onnxMetadata, preprocessedBackbone } from './backbone-head-onnx.js';
import { type InputTransform, inputTransform, type Normalization } from './input-transform.js';

export interface OnnxBackboneOptions extends Normalization {
  /** The output that holds the embeddings (default: the model's only output, or 'embedding' if it has one). */
  embeddingOutput?: string;
  /** Resize the images to this side for the model (bilinear; default: the images' own side). */
  inputSize?: number;
  /** onnxruntime intra-op threads (0: its default). */
  threads?: number;
}

export interface EmbedImagesOptions {
  batch?: number;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

const firstLine = (err: unknown) => String((err as Error)?.message ?? err).split('\n')[0];

function dims(meta: ort.InferenceSession.ValueMetadata | undefined): ReadonlyArray<number | string> | null {
  return meta?.isTensor && meta.shape.length > 0 ? meta.shape : null;
}

export class OnnxBackbone {
  /** The session of the backbone behind its input transform, for the images it was last prepared for. */
  private prepared: { key: string; session: ort.InferenceSession } | null = null;

  private constructor(
    readonly path: string,
    readonly inputName: string,
    /** [C, H, W] where the model fixes them, else null per unknown dimension. */
    readonly inputDims: [number | null, number | null, number | null],
    readonly outputName: string,
    /** The embedding width where the model fixes it. */
    readonly outputWidth: number | null,
    /** True when the model normalises inside and takes raw pixel values (a model exported by eos). */
    readonly takesRawPixels: boolean,
    private readonly options: OnnxBackboneOptions,
  ) {}

  static async load(path: string, options: OnnxBackboneOptions = {}): Promise<OnnxBackbone> {
    let stat: ReturnType<typeof statSync>;
    try {
      stat = statSync(path);
    } catch (err) {
      throw new Error(`${path}: cannot read the backbone model (${(err as NodeJS.ErrnoException).code})`);
    }
    if (stat.isDirectory()) throw new Error(`${path}: is a directory, expected an ONNX model file`);
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(path, {
        intraOpNumThreads: options.threads ?? 0,
        graphOptimizationLevel: 'all',
      });
    } catch (err) {
      throw new Error(`${path}: not a valid ONNX model (onnxruntime: ${firstLine(err)})`);
    }
    try {
      // Our own exported models normalise inside the graph and take raw pixel values (onnx-export.ts).
      const raw = 'eos.input' in onnxMetadata(readFileSync(path));
      return OnnxBackbone.inspect(path, session, raw, options);
    } finally {
      // This session only told the model's inputs and outputs; embedding runs the preprocessed graph.
      await session.release();
    }
  }

  private static inspect(
    path: string,
    session: ort.InferenceSession,
    raw: boolean,
    options: OnnxBackboneOptions,
  ): OnnxBackbone {
    if (session.inputNames.length !== 1) {
      throw new Error(
        `${path}: the backbone must take one input (an image batch), it takes ${session.inputNames.length}: ` +
          session.inputNames.join(', '),
      );
    }
    const input = session.inputMetadata[0];
    const inDims = dims(input);
    if (input.isTensor && input.type !== 'float32') {
      throw new Error(`${path}: the input ${input.name} is ${input.type}; a backbone takes float32 images`);
    }
    if (inDims && inDims.length !== 4) {
      throw new Error(
        `${path}: the input ${input.name} has shape [${inDims.join(', ')}]; a backbone takes NCHW images [N, C, H, W]`,
      );
    }
    const fixed = (d: number | string | undefined) => (typeof d === 'number' && d > 0 ? d : null);
    const inputDims: [number | null, number | null, number | null] = [
      fixed(inDims?.[1]),
      fixed(inDims?.[2]),
      fixed(inDims?.[3]),
    ];
    const outputs = session.outputNames;
    const outputName =
      options.embeddingOutput ??
      (outputs.length === 1 ? outputs[0] : outputs.includes('embedding') ? 'embedding' : undefined);
    if (outputName === undefined) {
      throw new Error(
        `${path}: the model has ${outputs.length} outputs (${outputs.join(', ')}); name the embedding one ` +
          '(--embedding-output NAME)',
      );
    }
    const index = outputs.indexOf(outputName);
    if (index < 0) {
      throw new Error(
        `${path}: there is no output named ${outputName}; the model's outputs are ${outputs.join(', ')}`,
      );
    }
    const outDims = dims(session.outputMetadata[index]);
    if (outDims && outDims.length !== 2) {
      throw new Error(
        `${path}: the output ${outputName} has shape [${outDims.join(', ')}]; embeddings must be [N, D] ` +
          '(export the model with a Flatten after its pooling)',
      );
    }
    if (options.inputSize !== undefined && !(Number.isInteger(options.inputSize) && options.inputSize >= 1)) {
      throw new RangeError(`inputSize: expected a positive integer, got ${options.inputSize}`);
    }
    // The normalisation is checked against the model now, not after a data set is loaded and decoded.
    if (!raw) {
      try {
        inputTransform(inputDims[0] ?? 3, inputDims[0] ?? 3, options);
      } catch (err) {
        throw new Error(`${path}: ${(err as Error).message}`);
      }
    }
    const fixedSide = inputDims[1] ?? inputDims[2];
    if (options.inputSize !== undefined && fixedSide !== null && options.inputSize !== fixedSide) {
      throw new Error(
        `${path}: the model takes ${fixedSide}x${fixedSide} images; --input-size ${options.inputSize} would not fit`,
      );
    }
    return new OnnxBackbone(path, input.name, inputDims, outputName, fixed(outDims?.[1]), raw, options);
  }

  /**
   * The transform from images of `imageChannels` x `side` x `side` to this model's input; throws naming the
   * model when they do not fit it. `raw`: the model takes pixel values 0..255 (see inputTransform).
   */
  transformFor(imageChannels: number, side: number, raw = this.takesRawPixels): InputTransform {
    const [c, h, w] = this.inputDims;
    const fed = this.options.inputSize ?? side;
    if ((h !== null && h !== fed) || (w !== null && w !== fed)) {
      throw new Error(
        `${this.path}: the model takes ${h ?? '?'}x${w ?? '?'} images and would get ${fed}x${fed} ones ` +
          (this.options.inputSize === undefined
            ? `(the data set's size; resize them: --input-size ${h ?? w})`
            : '(--input-size)'),
      );
    }
    try {
      return inputTransform(c ?? imageChannels, imageChannels, raw ? 'raw' : this.options);
    } catch (err) {
      throw new Error(`${this.path}: ${(err as Error).message}`);
    }
  }

  /** Embeddings [n, D] of uint8 NCHW images, and D. */
  async embed(
    images: Uint8Array,
    shape: [number, number, number, number],
    options: EmbedImagesOptions = {},
  ): Promise<{ embeddings: Float32Array; width: number }> {
    const [n, channels, side, sideW] = shape;
    if (side !== sideW) throw new RangeError(`images must be square, got ${side}x${sideW}`);
    const session = await this.preparedFor(channels, side);
    const batch = options.batch ?? INFERENCE_BATCH;
    const plane = side * side;
    let out: Float32Array | null = null;
    let width = this.outputWidth ?? 0;
    for (let start = 0; start < n; start += batch) {
      if (options.signal?.aborted) {
        const err = new Error('embedding stopped');
        err.name = 'AbortError';
        throw err;
      }
      const b = Math.min(batch, n - start);
      // Raw pixel values: the input transform is inside the preprocessed graph, as in the served model.
      const x = Float32Array.from(images.subarray(start * channels * plane, (start + b) * channels * plane));
      const feed = new ort.Tensor('float32', x, [b, channels, side, side]);
      let result: ort.InferenceSession.OnnxValueMapType;
      try {
        result = await session.run({ pixels: feed }, ['embedding']);
      } catch (err) {
        throw new Error(
          `${this.path}: onnxruntime refused a batch of shape [${feed.dims.join(', ')}] (${firstLine(err)})`,
        );
      }
      const y = result.embedding as ort.Tensor;
      if (y.type !== 'float32' || y.dims.length !== 2 || y.dims[0] !== b) {
        throw new Error(
          `${this.path}: the output ${this.outputName} is ${y.type} [${y.dims.join(', ')}] for ${b} images; ` +
            `embeddings must be float32 [${b}, D]`,
        );
      }
      if (out !== null && y.dims[1] !== width) {
        throw new Error(
          `${this.path}: the output ${this.outputName} is ${y.dims[1]} wide for images ${start}.. but was ${width} wide before`,
        );
      }
      if (out === null) {
        width = y.dims[1];
        if (width < 1) throw new Error(`${this.path}: the output ${this.outputName} has no columns`);
        out = new Float32Array(n * width);
      }
      const values = y.data as Float32Array;
      for (let i = 0; i < values.length; i++) {
        if (!Number.isFinite(values[i])) {
          throw new Error(
            `${this.path}: the embedding of image ${start + Math.floor(i / width)} is not finite ` +
              `(${values[i]} in column ${i % width}); check --mean and --std and the model`,
          );
        }
      }
      out.set(values, start * width);
      options.onProgress?.(start + b, n);
    }
    return { embeddings: out ?? new Float32Array(0), width };
  }

  /** The graph embedding runs: this backbone behind the input transform for these images (backbone-head-onnx.ts). */
  graphFor(imageChannels: number, side: number): BackboneGraph {
    return {
      inputName: this.inputName,
      outputName: this.outputName,
      transform: this.transformFor(imageChannels, side),
      side,
      inputSize: this.options.inputSize,
    };
  }

  private async preparedFor(imageChannels: number, side: number): Promise<ort.InferenceSession> {
    const key = `${imageChannels}x${side}`;
    if (this.prepared?.key === key) return this.prepared.session;
    const graph = this.graphFor(imageChannels, side);
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(preprocessedBackbone(readFileSync(this.path), graph), {
        intraOpNumThreads: this.options.threads ?? 0,
        graphOptimizationLevel: 'all',
      });
    } catch (err) {
      throw new Error(`${this.path}: the model behind its input transform does not load (${firstLine(err)})`);
    }
    await this.release();
    this.prepared = { key, session };
    return session;
  }

  async release(): Promise<void> {
    const prepared = this.prepared;
    this.prepared = null;
    await prepared?.session.release();
  }
}
