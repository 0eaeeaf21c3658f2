// Shapes shared by every over-sampler (imbalanced-learn's conventions, TypedArrays instead of ndarrays).

import type { KnnDevice } from '../native.js';
import type { KnnChoice, KnnSearchRecord } from './knn-method.js';

/**
 * Which classes to over-sample and to how many rows, as in imbalanced-learn:
 * - 'auto' = 'not majority': every class but the majority, up to the majority count;
 * - 'minority': the smallest class only; 'not minority': every class but the smallest;
 * - 'all': every class (the majority gets nothing to add);
 * - an object or Map from label to the wanted number of rows AFTER resampling (>= the current count).
 * Ties for majority/minority go to the smallest label, as numpy's ordering does in imbalanced-learn.
 */
export type SamplingStrategy =
  | 'auto'
  | 'not majority'
  | 'minority'
  | 'not minority'
  | 'all'
  | Readonly<Record<number, number>>
  | ReadonlyMap<number, number>;

export interface SamplerOptions {
  samplingStrategy?: SamplingStrategy;
  /** Seed of the sampler's random generator (non-negative safe integer). Default 0: reproducible. */
  seed?: number;
  /** Threads for the nearest-neighbour search (default: the search's own default). */
  threads?: number;
  /** Which nearest-neighbour search (default exact; approximate ones for very large N): knn-method.ts. */
  knn?: KnnChoice;
  /** Where an exact search runs: 'cpu' (default) or 'cuda' (a CUDA build and a GPU; the same neighbours). */
  device?: KnnDevice;
}

/**
 * Where each synthetic row came from: row i of the synthetic block (row N + i of the output) equals
 * x[base[i]] + coefficient[i] * (x[partner[i]] - x[base[i]]), rounded to float32 once at the end.
 * base and partner index the ORIGINAL rows. Random over-sampling copies rows: partner = base, coefficient 0.
 */
export interface Provenance {
  base: Int32Array;
  partner: Int32Array;
  coefficient: Float64Array;
}

/**
 * A class for which the method could not run as specified. Reported, never silent: e.g. EOS on a class
 * whose members have no enemy among their neighbours, or Borderline-SMOTE on a class with no sample in
 * danger (imbalanced-learn skips such a class without a word; we skip it and say so).
 */
export interface SamplerFallback {
  label: number;
  reason: 'no-eligible-base' | 'empty-danger-set';
  action: 'within-class-smote' | 'skipped';
  /** Rows the sampling strategy asked for. */
  requested: number;
  /** Rows actually generated for this class. */
  generated: number;
  message: string;
}

export interface ResampleResult {
  /** (N + M) x d, row-major: the N original rows unchanged and in order, then the M synthetic rows. */
  x: Float32Array;
  /** N + M labels, originals first. */
  y: Int32Array;
  d: number;
  /** One entry per synthetic row (length M). */
  provenance: Provenance;
  fallbacks: SamplerFallback[];
  /** The nearest-neighbour searches the method ran, in order (absent: it ran none). */
  searches?: KnnSearchRecord[];
}
