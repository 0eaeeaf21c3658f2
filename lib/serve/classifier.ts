// Inference for services: an exported ONNX model run by onnxruntime-node, with micro-batching.
//
// Concurrent predict/embed calls are queued and run together as one batch (up to `maxBatch` images, waiting at
// most `maxWaitMs` for company), which is what makes a busy service fast: one session.run of 64 images costs far
// less than 64 runs of one. Each caller gets back exactly its own rows.
import { readFileSync, type Stats, statSync } from 'node:fs';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { ONNX_INPUT } from '../model/onnx-export.js';
import { EMBEDDING_SIZE } from '../model/spec.js';

// onnx-proto is CommonJS: take the namespace from its default export.
const { onnx } = onnxProto;

export interface ClassifierOptions {
  /** Most images per session.run (default 64). A single call larger than this runs on its own. */
  maxBatch?: number;
  /** How long a lone request waits for others to share its batch (default 2 ms; 0 = next tick). */
  maxWaitMs?: number;
  intraOpThreads?: number;
  interOpThreads?: number;
}

export interface Prediction {
  labels: Int32Array;
  /** Row-major [images, classes] softmax probabilities. */
  probabilities: Float32Array;
}

interface Pending {
  pixels: Float32Array;
  count: number;
  resolve: (outputs: { logits: Float32Array; embedding?: Float32Array }) => void;
  reject: (err: Error) => void;
}

export class Classifier {
  readonly classes: number;
  /** The name of each class, where the model records them (eos.class_names). */
  readonly classNames?: string[];
  /** Columns of `embed`'s rows. */
  readonly embeddingDim: number;
  /** [C, H, W] */
  readonly inputShape: [number, number, number];
  readonly hasEmbedding: boolean;
  private readonly imageSize: number;
  private readonly logitScale: number;
  private readonly maxBatch: number;
  private readonly maxWaitMs: number;
  private queue: Pending[] = [];
  private queued = 0;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private closed = false;
  /** Session runs and images served so far (how well micro-batching is working). */
  readonly stats = { runs: 0, images: 0 };

  private constructor(
    private readonly session: ort.InferenceSession,
    model: ModelInfo,
    options: ClassifierOptions,
  ) {
    this.classes = model.classes;
    this.classNames = model.classNames;
    this.embeddingDim = model.embeddingDim;
    this.inputShape = model.inputShape;
    this.imageSize = model.inputShape[0] * model.inputShape[1] * model.inputShape[2];
    this.logitScale = model.logitScale;
    this.hasEmbedding = session.outputNames.includes('embedding');
    this.maxBatch = options.maxBatch ?? 64;
    this.maxWaitMs = options.maxWaitMs ?? 2;
  }

  /**
   * Loads an ONNX model written by exportOnnx and checks, before anything is served, that it is one: a
   * readable ONNX file, with our metadata, the input and outputs we feed and read, and finite outputs on a
   * probe batch (a model exported with a zero std would otherwise answer NaN to every request).
   */
  static async load(path: string, options: ClassifierOptions = {}): Promise<Classifier> {
    checkOptions(options);
    checkModelFile(path);
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(path, {
        intraOpNumThreads: options.intraOpThreads ?? 0,
        interOpNumThreads: options.interOpThreads ?? 0,
        graphOptimizationLevel: 'all',
      });
    } catch (err) {
      throw new Error(`${path}: not a valid ONNX model (onnxruntime: ${onnxruntimeReason(err)})`);
    }
    try {
      const model = describeModel(path, readMetadata(path), session);
      await probe(path, session, model);
      return new Classifier(session, model, options);
    } catch (err) {
      await session.release();
      throw err;
    }
  }

  /** Labels and probabilities for a batch of NCHW images (uint8, or float32 raw pixel values 0..255). */
  async predict(images: Uint8Array | Float32Array): Promise<Prediction> {
    const { logits } = await this.enqueue(images);
    const n = logits.length / this.classes;
    const labels = new Int32Array(n);
    const probabilities = new Float32Array(logits.length);
    for (let i = 0; i < n; i++) {
      const row = logits.subarray(i * this.classes, (i + 1) * this.classes);
      let best = 0;
      let max = -Infinity;
      for (let c = 0; c < this.classes; c++) {
        if (row[c] > max) {
          max = row[c];
          best = c;
        }
      }
      let sum = 0;
      for (let c = 0; c < this.classes; c++) sum += Math.exp(this.logitScale * (row[c] - max));
      for (let c = 0; c < this.classes; c++) {
        probabilities[i * this.classes + c] = Math.exp(this.logitScale * (row[c] - max)) / sum;
      }
      labels[i] = best;
    }
    return { labels, probabilities };
  }

  /** Raw logits, row-major [images, classes]. */
  async logits(images: Uint8Array | Float32Array): Promise<Float32Array> {
    return (await this.enqueue(images)).logits;
  }

  /** 64-d embeddings, row-major [images, 64]; the model must have been exported with the embedding output. */
  async embed(images: Uint8Array | Float32Array): Promise<Float32Array> {
    if (!this.hasEmbedding)
      throw new Error("this model has no 'embedding' output: export with outputs ['logits', 'embedding']");
    return (await this.enqueue(images)).embedding!;
  }

  /** Rejects new calls, finishes the queued ones, releases the session. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.flush();
    await this.running;
    await this.session.release();
  }

  private toPixels(images: Uint8Array | Float32Array): Float32Array {
    if (!(images instanceof Uint8Array) && !(images instanceof Float32Array)) {
      throw new TypeError('images must be a Uint8Array or a Float32Array (NCHW pixel values 0..255)');
    }
    if (images.length === 0 || images.length % this.imageSize !== 0) {
      throw new RangeError(
        `images must hold a whole number of ${this.inputShape.join('x')} images (${this.imageSize} values each), got ${images.length} values`,
      );
    }
    if (images instanceof Uint8Array) return Float32Array.from(images);
    for (let i = 0; i < images.length; i++) {
      if (!Number.isFinite(images[i])) throw new RangeError(`images[${i}] is not finite`);
    }
    return images;
  }

  private enqueue(
    images: Uint8Array | Float32Array,
  ): Promise<{ logits: Float32Array; embedding?: Float32Array }> {
    if (this.closed) return Promise.reject(new Error('the classifier is closed'));
    let pixels: Float32Array;
    try {
      pixels = this.toPixels(images);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise((resolve, reject) => {
      const count = pixels.length / this.imageSize;
      this.queue.push({ pixels, count, resolve, reject });
      this.queued += count;
      if (this.queued >= this.maxBatch) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.maxWaitMs);
    });
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    while (this.queue.length > 0) {
      // Take requests until the batch is full (a single oversized request forms its own batch).
      const batch: Pending[] = [];
      let images = 0;
      while (this.queue.length > 0 && (batch.length === 0 || images + this.queue[0].count <= this.maxBatch)) {
        const p = this.queue.shift()!;
        batch.push(p);
        images += p.count;
      }
      this.queued -= images;
      // Batches run one after another: onnxruntime already uses every intra-op thread for one run.
      this.running = this.running.then(() => this.runBatch(batch, images));
    }
  }

  private async runBatch(batch: Pending[], images: number): Promise<void> {
    try {
      const pixels = batch.length === 1 ? batch[0].pixels : new Float32Array(images * this.imageSize);
      if (batch.length > 1) {
        let offset = 0;
        for (const p of batch) {
          pixels.set(p.pixels, offset);
          offset += p.pixels.length;
        }
      }
      this.stats.runs++;
      this.stats.images += images;
      const out = await this.session.run({
        [ONNX_INPUT]: new ort.Tensor('float32', pixels, [images, ...this.inputShape]),
      });
      const logits = out.logits.data as Float32Array;
      const embedding = out.embedding?.data as Float32Array | undefined;
      let row = 0;
      for (const p of batch) {
        const own = logits.slice(row * this.classes, (row + p.count) * this.classes);
        // The load probe passed, but an input may still overflow the model: refuse rather than answer NaN.
        const bad = own.findIndex((v) => !Number.isFinite(v));
        if (bad >= 0) {
          p.reject(
            new RangeError(
              `the model's logits are not finite for image ${Math.floor(bad / this.classes)} of this call`,
            ),
          );
        } else {
          p.resolve({
            logits: own,
            embedding: embedding?.slice(row * this.embeddingDim, (row + p.count) * this.embeddingDim),
          });
        }
        row += p.count;
      }
    } catch (err) {
      for (const p of batch) p.reject(err as Error);
    }
  }
}

/** What the Classifier needs to know of a model, read from its eos.* metadata. */
interface ModelInfo {
  classes: number;
  /** [C, H, W] */
  inputShape: [number, number, number];
  logitScale: number;
  classNames?: string[];
  /** Width of the 'embedding' output: eos.embedding_dim (a user's backbone), else our ResNets' 64. */
  embeddingDim: number;
}

function checkOptions(options: ClassifierOptions): void {
  const { maxBatch = 64, maxWaitMs = 2, intraOpThreads = 0, interOpThreads = 0 } = options;
  if (!Number.isInteger(maxBatch) || maxBatch < 1)
    throw new RangeError(`maxBatch must be an integer >= 1, got ${maxBatch}`);
  if (typeof maxWaitMs !== 'number' || !(maxWaitMs >= 0 && maxWaitMs < 2 ** 31))
    throw new RangeError(`maxWaitMs must be a number of milliseconds >= 0, got ${maxWaitMs}`);
  for (const [name, v] of [
    ['intraOpThreads', intraOpThreads],
    ['interOpThreads', interOpThreads],
  ] as const) {
    if (!Number.isInteger(v) || v < 0) throw new RangeError(`${name} must be an integer >= 0, got ${v}`);
  }
}

/** A missing path or a directory gets a plain sentence rather than onnxruntime's wording. */
function checkModelFile(path: string): void {
  if (typeof path !== 'string' || path === '') throw new TypeError('the model path must be a file name');
  let stats: Stats;
  try {
    stats = statSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error(`${path} does not exist, expected an ONNX file`);
    throw new Error(`${path}: cannot read the model (${(err as Error).message})`);
  }
  if (stats.isDirectory()) throw new Error(`${path} is a directory, expected an ONNX file`);
}

/**
 * onnxruntime's message, shortened to what a user can act on: without the "Load model from X failed:" prefix
 * and the C++ source location and signature it puts in front of the reason; its first line only, or (`all`)
 * every line joined into one, where the detail is on the next lines ("index: 1 Got: 3 Expected: 1").
 */
function onnxruntimeReason(err: unknown, lines: 'first' | 'all' = 'first'): string {
  const text = String((err as Error)?.message ?? err)
    .replace(/^Load model from .*? failed:/, '')
    .replace(/^\S+\.(?:cc|cpp|h):\d+ \S+?\(.*?\) /, '')
    .trim();
  return lines === 'first' ? text.split('\n')[0] : text.replace(/\s*\n\s*/g, '; ');
}

/** The model's metadata_props (onnxruntime-node does not expose them). */
function readMetadata(path: string): Record<string, string> {
  try {
    const model = onnx.ModelProto.decode(readFileSync(path));
    return Object.fromEntries(model.metadataProps.map((p) => [p.key, p.value]));
  } catch (err) {
    throw new Error(`${path}: cannot read the model's metadata (${(err as Error).message})`);
  }
}

function describeModel(
  path: string,
  metadata: Record<string, string>,
  session: ort.InferenceSession,
): ModelInfo {
  const bad = (what: string) =>
    new Error(`${path}: ${what}; export the model with eos export (or exportOnnx)`);
  const classesText = metadata['eos.classes'];
  const shapeText = metadata['eos.input_shape'];
  if (classesText === undefined || shapeText === undefined) {
    throw bad('the model metadata lacks eos.input_shape / eos.classes');
  }
  const classes = Number(classesText);
  if (!Number.isInteger(classes) || classes < 2) {
    throw bad(`metadata eos.classes must be an integer >= 2, got ${JSON.stringify(classesText)}`);
  }
  let shape: unknown;
  try {
    shape = JSON.parse(shapeText);
  } catch {
    shape = undefined;
  }
  if (
    !Array.isArray(shape) ||
    shape.length !== 3 ||
    !shape.every((d) => Number.isInteger(d) && d >= 1 && d <= 65536)
  ) {
    throw bad(`metadata eos.input_shape must be [channels, height, width], got ${JSON.stringify(shapeText)}`);
  }
  const scaleText = metadata['eos.logit_scale'] ?? '1';
  const logitScale = Number(scaleText);
  if (!Number.isFinite(logitScale) || logitScale <= 0) {
    throw bad(`metadata eos.logit_scale must be a finite number > 0, got ${JSON.stringify(scaleText)}`);
  }
  if (!session.inputNames.includes(ONNX_INPUT)) {
    throw bad(`the model has inputs [${session.inputNames.join(', ')}], expected '${ONNX_INPUT}'`);
  }
  if (!session.outputNames.includes('logits')) {
    throw bad(`the model has outputs [${session.outputNames.join(', ')}], expected 'logits'`);
  }
  const namesText = metadata['eos.class_names'];
  let classNames: string[] | undefined;
  if (namesText !== undefined) {
    let names: unknown;
    try {
      names = JSON.parse(namesText);
    } catch {
      names = undefined;
    }
    if (!Array.isArray(names) || names.length !== classes || !names.every((n) => typeof n === 'string')) {
      throw bad(
        `metadata eos.class_names must be a JSON list of ${classes} names, got ${namesText.slice(0, 80)}`,
      );
    }
    classNames = names;
  }
  const dimText = metadata['eos.embedding_dim'] ?? String(EMBEDDING_SIZE);
  const embeddingDim = Number(dimText);
  if (!Number.isInteger(embeddingDim) || embeddingDim < 1) {
    throw bad(`metadata eos.embedding_dim must be a positive integer, got ${JSON.stringify(dimText)}`);
  }
  return { classes, inputShape: shape as [number, number, number], logitScale, classNames, embeddingDim };
}

/**
 * Runs one all-zero and one mid-grey image and refuses the model unless it answers with finite logits (and
 * embeddings) of the declared size: NaN or Infinity here means every request would get NaN probabilities.
 */
async function probe(path: string, session: ort.InferenceSession, model: ModelInfo): Promise<void> {
  const size = model.inputShape[0] * model.inputShape[1] * model.inputShape[2];
  const pixels = new Float32Array(2 * size);
  pixels.fill(128, size);
  let out: ort.InferenceSession.OnnxValueMapType;
  try {
    out = await session.run({ [ONNX_INPUT]: new ort.Tensor('float32', pixels, [2, ...model.inputShape]) });
  } catch (err) {
    throw new Error(
      `${path}: the model does not run on its declared input shape [${model.inputShape.join(', ')}] (onnxruntime: ${onnxruntimeReason(err, 'all')})`,
    );
  }
  const check = (name: string, width: number) => {
    const data = out[name]?.data;
    if (!(data instanceof Float32Array) || data.length !== 2 * width) {
      throw new Error(
        `${path}: output '${name}' should hold ${width} float32 values per image, got ${data?.length ?? 'none'} for 2 images`,
      );
    }
    const i = data.findIndex((v) => !Number.isFinite(v));
    if (i >= 0) {
      throw new Error(
        `${path}: the model's outputs are not finite on a probe batch (${name}[${i}] = ${data[i]} for an all-zero and a mid-grey image): its weights or normalisation (std must be > 0) are broken; export it again`,
      );
    }
  };
  check('logits', model.classes);
  if (session.outputNames.includes('embedding')) check('embedding', model.embeddingDim);
}
