// Inference for services: an exported ONNX model run by onnxruntime-node, with micro-batching.
//
// Concurrent predict/embed calls are queued and run together as one batch (up to `maxBatch` images, waiting at
// most `maxWaitMs` for company), which is what makes a busy service fast: one session.run of 64 images costs far
// less than 64 runs of one. Each caller gets back exactly its own rows.
import * as ort from 'onnxruntime-node';

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
    metadata: Record<string, string>,
    options: ClassifierOptions,
  ) {
    const shape = JSON.parse(metadata['eos.input_shape'] ?? 'null');
    this.classes = Number(metadata['eos.classes']);
    if (!Array.isArray(shape) || shape.length !== 3 || !Number.isInteger(this.classes)) {
      throw new Error('model metadata lacks eos.input_shape / eos.classes: export it with exportOnnx');
    }
    this.inputShape = shape as [number, number, number];
    this.imageSize = shape[0] * shape[1] * shape[2];
    this.logitScale = Number(metadata['eos.logit_scale'] ?? '1');
    this.hasEmbedding = session.outputNames.includes('embedding');
    this.maxBatch = options.maxBatch ?? 64;
    this.maxWaitMs = options.maxWaitMs ?? 2;
    if (!Number.isInteger(this.maxBatch) || this.maxBatch < 1)
      throw new RangeError('maxBatch must be an integer >= 1');
    if (!(this.maxWaitMs >= 0)) throw new RangeError('maxWaitMs must be >= 0');
  }

  static async load(path: string, options: ClassifierOptions = {}): Promise<Classifier> {
    const session = await ort.InferenceSession.create(path, {
      intraOpNumThreads: options.intraOpThreads ?? 0,
      interOpNumThreads: options.interOpThreads ?? 0,
      graphOptimizationLevel: 'all',
    });
    const metadata = await readMetadata(path);
    try {
      return new Classifier(session, metadata, options);
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
        pixels: new ort.Tensor('float32', pixels, [images, ...this.inputShape]),
      });
      const logits = out.logits.data as Float32Array;
      const embedding = out.embedding?.data as Float32Array | undefined;
      let row = 0;
      for (const p of batch) {
        p.resolve({
          logits: logits.slice(row * this.classes, (row + p.count) * this.classes),
          embedding: embedding?.slice(row * 64, (row + p.count) * 64),
        });
        row += p.count;
      }
    } catch (err) {
      for (const p of batch) p.reject(err as Error);
    }
  }
}

/** The model's metadata_props (onnxruntime-node does not expose them). */
async function readMetadata(path: string): Promise<Record<string, string>> {
  const { readFileSync } = await import('node:fs');
  const { onnx } = (await import('onnx-proto')).default;
  const model = onnx.ModelProto.decode(readFileSync(path));
  return Object.fromEntries(model.metadataProps.map((p) => [p.key, p.value]));
}
