// The shared shape of every over-sampler: options, input validation, strategy resolution, and assembly of
// the result. Each method supplies only how it generates rows for one class.

import type { KnnDevice } from '../native.js';
import { Xoshiro128 } from '../random.js';
import { type KnnChoice, validateKnnChoice } from './knn-method.js';
import type { NeighbourSearch } from './neighbours.js';
import { resolveSamplingStrategy } from './strategy.js';
import { SyntheticRows } from './synthetic-rows.js';
import type { ResampleResult, SamplerOptions, SamplingStrategy } from './types.js';
import { type ClassIndex, indexLabels, requireInteger, validateInput } from './validate.js';

/** Everything a method needs to generate rows for the classes the strategy selected. */
export interface ResampleJob {
  x: Float32Array;
  y: Int32Array;
  d: number;
  classes: ClassIndex;
  /** label -> rows to add, ascending labels; only classes with at least one row to add. */
  wanted: Map<number, number>;
  rng: Xoshiro128;
  out: SyntheticRows;
  /** Every neighbour search of the job goes through this (it records what each ran). */
  search: NeighbourSearch;
}

export abstract class OverSampler {
  readonly samplingStrategy: SamplingStrategy;
  readonly seed: number;
  readonly threads: number | undefined;
  readonly knn: KnnChoice | undefined;
  readonly device: KnnDevice | undefined;

  constructor(options: SamplerOptions = {}) {
    this.samplingStrategy = options.samplingStrategy ?? 'auto';
    this.seed = requireInteger('seed', options.seed ?? 0, 0, Number.MAX_SAFE_INTEGER);
    this.threads = options.threads === undefined ? undefined : requireInteger('threads', options.threads, 1);
    if (options.knn !== undefined) validateKnnChoice(options.knn);
    this.knn = options.knn;
    if (options.device !== undefined && options.device !== 'cpu' && options.device !== 'cuda') {
      throw new RangeError(`device must be 'cpu' or 'cuda', got ${JSON.stringify(options.device)}`);
    }
    this.device = options.device;
  }

  /** The neighbour search settings of this sampler (threads, device, method, the sampler's seed for an index). */
  protected neighbourSearch(): NeighbourSearch {
    return { threads: this.threads, device: this.device, knn: this.knn, seed: this.seed };
  }

  /**
   * Over-samples x (N x d, row-major, float32) with labels y. Resolves to the originals followed by the
   * synthetic rows, with provenance per synthetic row and any per-class fallback. Rejects with an Error
   * naming the offending argument on bad input.
   */
  async fitResample(x: Float32Array, y: Int32Array, d: number): Promise<ResampleResult> {
    const classes = validateInput(x, y, d);
    const wanted = resolveSamplingStrategy(this.samplingStrategy, classes);
    const active = new Map([...wanted].filter(([, count]) => count > 0));
    this.checkRequirements(y.length, classes, active);
    let expected = 0;
    for (const count of active.values()) expected += count;
    const out = new SyntheticRows(x, y, d, expected);
    const search = { ...this.neighbourSearch(), records: [] };
    if (active.size > 0) {
      const rng = new Xoshiro128(this.seed);
      await this.generate({ x, y, d, classes, wanted: active, rng, out, search });
    }
    return search.records.length > 0 ? { ...out.finish(), searches: search.records } : out.finish();
  }

  /**
   * Throws as fitResample would on labels y, for the requirements that do not depend on the rows' values
   * (classes present, neighbour counts against class sizes): a run checks them before it trains a backbone.
   */
  checkLabels(y: Int32Array): void {
    const classes = indexLabels(y);
    const wanted = resolveSamplingStrategy(this.samplingStrategy, classes);
    this.checkRequirements(y.length, classes, new Map([...wanted].filter(([, count]) => count > 0)));
  }

  /** Throws when the data cannot support the method (too few rows overall or in a class to over-sample). */
  protected abstract checkRequirements(rows: number, classes: ClassIndex, wanted: Map<number, number>): void;

  /** Appends the synthetic rows for every class in job.wanted (ascending label) to job.out. */
  protected abstract generate(job: ResampleJob): Promise<void>;
}
