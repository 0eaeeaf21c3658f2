// `ResNet`: the TypeScript face of a native CIFAR ResNet (native/addon/network_binding.cc).
//
// Tensors are addressed by their PyTorch names; the flat native buffers and the name -> offset tables stay
// behind this class. A model knows its input normalisation, so that checkpoints and ONNX exports carry it.

import { AUGMENTATION, BATCH, INFERENCE_BATCH, PROGRESS_EVERY, SGD } from '../defaults.js';
import {
  type BackendChoice,
  type HeadWeights,
  type LossOptions,
  type NativeEpochProgress,
  type NativeNetwork,
  native,
} from '../native.js';
import { stopFlagFor } from '../stop-flag.js';
import { metadataJson, readSafetensors, type Tensor, writeSafetensors } from './safetensors.js';
import {
  EMBEDDING_SIZE,
  type ModelWeights,
  type Normalization,
  type ResNetSpec,
  validateSpec,
} from './spec.js';

/** A backend by name (lib/native.ts BackendChoice). */
export type BackendName = BackendChoice;

export interface CreateOptions extends ResNetSpec {
  seed?: number;
  backend?: BackendName;
  threads?: number;
  normalization?: Normalization;
}

/** uint8 NCHW images and their shape [N, C, H, W]. */
export interface ImageBatch {
  images: Uint8Array;
  shape: [number, number, number, number];
}

export interface EpochOptions {
  order: Int32Array;
  labels: Int32Array;
  epoch: number;
  lr: number;
  batch?: number;
  momentum?: number;
  weightDecay?: number;
  loss: LossOptions;
  classWeights?: Float32Array | null;
  augment?: boolean;
  pad?: number;
  flip?: boolean;
  seed?: number;
  progressEvery?: number;
  onProgress?: (p: EpochProgress) => void;
  signal?: AbortSignal;
}

export type EpochProgress = NativeEpochProgress;

interface TableEntry {
  name: string;
  offset: number;
  shape: number[];
}

const count = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

export class ResNet {
  readonly spec: ResNetSpec;
  normalization: Normalization;
  private net: NativeNetwork | null;
  private readonly params: Map<string, TableEntry>;
  private readonly buffers: Map<string, TableEntry>;

  private constructor(spec: ResNetSpec, net: NativeNetwork, normalization: Normalization) {
    this.spec = spec;
    this.net = net;
    this.normalization = normalization;
    this.params = new Map(net.parameterTable().map((t) => [t.name, t]));
    this.buffers = new Map(net.bufferTable().map((t) => [t.name, t]));
  }

  /** A freshly initialised network (seeded Kaiming init, as the reference code). */
  static create(options: CreateOptions): ResNet {
    validateSpec(options);
    const { depth, inChannels, inputSize, classes, head } = options;
    const NetworkClass = native().NativeNetwork;
    const net = new NetworkClass({
      depth,
      inChannels,
      inputSize,
      classes,
      head,
      seed: options.seed ?? 0,
      backend: options.backend ?? 'auto',
      threads: options.threads ?? 0,
    });
    const normalization = options.normalization ?? {
      mean: new Array(inChannels).fill(0.5),
      std: new Array(inChannels).fill(0.5),
    };
    return new ResNet({ depth, inChannels, inputSize, classes, head }, net, normalization);
  }

  get backend(): string {
    return this.native().backend;
  }

  private native(): NativeNetwork {
    if (!this.net) throw new Error('the model is disposed');
    return this.net;
  }

  /** Names of the learnable parameters in PyTorch's named_parameters() order. */
  parameterNames(): string[] {
    return [...this.params.keys()];
  }

  /** A copy of one parameter or BN statistic by PyTorch name. */
  tensor(name: string): Float32Array {
    const p = this.params.get(name);
    if (p)
      return this.native()
        .getParameters()
        .slice(p.offset, p.offset + count(p.shape));
    const b = this.buffers.get(name);
    if (b)
      return this.native()
        .getBuffers()
        .slice(b.offset, b.offset + count(b.shape));
    throw new RangeError(`no tensor named ${name} in ResNet-${this.spec.depth}`);
  }

  /**
   * Every tensor at once, for readers of many tensors (ONNX export): one copy of each flat buffer instead of
   * one per `tensor(name)` call.
   */
  snapshot(): ModelWeights {
    const state = this.stateDict();
    return {
      spec: this.spec,
      normalization: this.normalization,
      tensor: (name: string) => {
        const t = state.get(name);
        if (!t || !(t.data instanceof Float32Array))
          throw new RangeError(`no tensor named ${name} in ResNet-${this.spec.depth}`);
        return t.data;
      },
    };
  }

  /** Overwrites one parameter or BN statistic by PyTorch name. */
  setTensor(name: string, values: Float32Array): void {
    const p = this.params.get(name);
    const b = p ? undefined : this.buffers.get(name);
    const entry = p ?? b;
    if (!entry) throw new RangeError(`no tensor named ${name} in ResNet-${this.spec.depth}`);
    if (values.length !== count(entry.shape)) {
      throw new RangeError(`${name} has ${count(entry.shape)} values, got ${values.length}`);
    }
    if (p) {
      const all = this.native().getParameters();
      all.set(values, p.offset);
      this.native().setParameters(all);
    } else {
      const all = this.native().getBuffers();
      all.set(values, entry.offset);
      this.native().setBuffers(all);
    }
  }

  /** The state dict with PyTorch names: parameters, BN running statistics and num_batches_tracked. */
  stateDict(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    const params = this.native().getParameters();
    const buffers = this.native().getBuffers();
    const tracked = this.native().getNumBatchesTracked();
    const bnNames = this.native().batchNormNames();
    for (const [name, t] of this.params) {
      out.set(name, {
        dtype: 'F32',
        shape: t.shape,
        data: params.slice(t.offset, t.offset + count(t.shape)),
      });
    }
    for (const [name, t] of this.buffers) {
      out.set(name, {
        dtype: 'F32',
        shape: t.shape,
        data: buffers.slice(t.offset, t.offset + count(t.shape)),
      });
    }
    bnNames.forEach((bn, i) => {
      out.set(`${bn}.num_batches_tracked`, {
        dtype: 'I64',
        shape: [],
        data: BigInt64Array.of(BigInt(tracked[i])),
      });
    });
    return out;
  }

  /** Loads parameters, BN statistics and counters from a state dict (every tensor must be present). */
  loadStateDict(tensors: Map<string, Tensor>, source = 'state dict'): void {
    const params = this.native().getParameters();
    const buffers = this.native().getBuffers();
    const fill = (table: Map<string, TableEntry>, flat: Float32Array) => {
      for (const [name, t] of table) {
        const src = tensors.get(name);
        if (!src) throw new Error(`${source}: missing tensor ${name}`);
        if (src.dtype !== 'F32' || src.shape.join(',') !== t.shape.join(',')) {
          throw new Error(
            `${source}: tensor ${name} is ${src.dtype} [${src.shape}], expected F32 [${t.shape}]`,
          );
        }
        flat.set(src.data as Float32Array, t.offset);
      }
    };
    fill(this.params, params);
    fill(this.buffers, buffers);
    const tracked = this.native()
      .batchNormNames()
      .map((bn) => {
        const t = tensors.get(`${bn}.num_batches_tracked`);
        return t ? Number((t.data as BigInt64Array)[0]) : 0;
      });
    this.native().setParameters(params);
    this.native().setBuffers(buffers);
    this.native().setNumBatchesTracked(tracked);
  }

  /** SGD momentum buffers by parameter name (the optimizer state a resumed run needs). */
  momentumState(): Map<string, Tensor> {
    const m = this.native().getMomentum();
    return new Map(
      [...this.params].map(([name, t]) => [
        name,
        { dtype: 'F32', shape: t.shape, data: m.slice(t.offset, t.offset + count(t.shape)) },
      ]),
    );
  }

  loadMomentumState(tensors: Map<string, Tensor>, source = 'checkpoint'): void {
    const m = this.native().getMomentum();
    for (const [name, t] of this.params) {
      const src = tensors.get(name);
      if (!src || src.data.length !== count(t.shape))
        throw new Error(`${source}: missing momentum of ${name}`);
      m.set(src.data as Float32Array, t.offset);
    }
    this.native().setMomentum(m);
  }

  /** Replaces the classifier head (phase 3): linear weight [K, 64] + bias [K], or cosine weight [64, K]. */
  setHead(head: HeadWeights): void {
    const params = this.native().getParameters();
    const w = this.params.get('linear.weight')!;
    if (head.weight.length !== count(w.shape))
      throw new RangeError(`head weight must have ${count(w.shape)} values`);
    params.set(head.weight, w.offset);
    const b = this.params.get('linear.bias');
    if (b) {
      if (!head.bias || head.bias.length !== count(b.shape))
        throw new RangeError(`head bias must have ${count(b.shape)} values`);
      params.set(head.bias, b.offset);
    }
    this.native().setParameters(params);
  }

  head(): HeadWeights {
    return {
      weight: this.tensor('linear.weight'),
      bias: this.params.has('linear.bias') ? this.tensor('linear.bias') : null,
    };
  }

  /**
   * One training epoch natively (augment, forward, loss, backward, SGD per batch). Stopped by its signal, it
   * rejects with an AbortError whose `partial` is the progress so far (lib/native.ts isAbortError).
   */
  async trainEpoch(data: ImageBatch, options: EpochOptions): Promise<EpochProgress> {
    const stop = stopFlagFor(options.signal);
    try {
      return await this.native().trainEpoch(
        data.images,
        data.shape,
        options.labels,
        options.order,
        {
          batch: options.batch ?? BATCH,
          lr: options.lr,
          momentum: options.momentum ?? SGD.momentum,
          weightDecay: options.weightDecay ?? SGD.weightDecay,
          nesterov: false,
          loss: options.loss,
          classWeights: options.classWeights ? Array.from(options.classWeights) : null,
          mean: this.normalization.mean,
          std: this.normalization.std,
          augment: options.augment ?? true,
          pad: options.pad ?? AUGMENTATION.pad,
          flip: options.flip ?? AUGMENTATION.flip,
          seed: options.seed ?? 0,
          epoch: options.epoch,
          progressEvery: options.progressEvery ?? PROGRESS_EVERY,
        },
        options.onProgress,
        stop.flag,
      );
    } finally {
      stop.dispose();
    }
  }

  /** Eval-mode logits and/or 64-d embeddings of the images (or of images[indices]). */
  async predict(
    data: ImageBatch,
    options: {
      indices?: Int32Array;
      batch?: number;
      logits?: boolean;
      embeddings?: boolean;
      signal?: AbortSignal;
    } = {},
  ): Promise<{ logits: Float32Array | null; embeddings: Float32Array | null }> {
    const stop = stopFlagFor(options.signal);
    try {
      return await this.native().predict(
        data.images,
        data.shape,
        options.indices ?? null,
        {
          batch: options.batch ?? INFERENCE_BATCH,
          mean: this.normalization.mean,
          std: this.normalization.std,
          logits: options.logits ?? true,
          embeddings: options.embeddings ?? false,
        },
        stop.flag,
      );
    } finally {
      stop.dispose();
    }
  }

  /** 64-d embeddings (eval mode, no augmentation), row-major [N, 64]. */
  async embed(data: ImageBatch, signal?: AbortSignal): Promise<Float32Array> {
    const out = await this.predict(data, { logits: false, embeddings: true, signal });
    return out.embeddings!;
  }

  /** Metadata that makes a state dict self-describing (spec and normalisation). */
  metadata(): Record<string, string> {
    return { 'eos.spec': JSON.stringify(this.spec), 'eos.normalization': JSON.stringify(this.normalization) };
  }

  /** Writes the state dict (PyTorch names) as safetensors, atomically. */
  save(path: string, extra: Record<string, string> = {}): void {
    writeSafetensors(path, Object.fromEntries(this.stateDict()), { ...this.metadata(), ...extra });
  }

  /** A model from a safetensors state dict written by `save` (spec and normalisation from its metadata). */
  static load(path: string, options: { backend?: BackendName; threads?: number } = {}): ResNet {
    const { tensors, metadata } = readSafetensors(path);
    if (!metadata['eos.spec'])
      throw new Error(`${path}: no eos.spec metadata; for a PyTorch state dict use readStateDict`);
    const spec = metadataJson(path, metadata, 'eos.spec') as ResNetSpec;
    const normalization = (metadataJson(path, metadata, 'eos.normalization') ?? undefined) as
      | Normalization
      | undefined;
    let model: ResNet;
    try {
      model = ResNet.create({ ...spec, ...options, normalization });
    } catch (err) {
      throw new Error(
        `${path}: the model its metadata describes cannot be built (${(err as Error).message})`,
      );
    }
    model.loadStateDict(tensors, path);
    return model;
  }

  dispose(): void {
    this.net?.dispose();
    this.net = null;
  }
}

export { EMBEDDING_SIZE };
