// Exact k-nearest-neighbour search for the samplers: a typed wrapper over the native kernel
// (native/knn, bound in native/addon/knn_binding.cc).
//
// Distances are squared Euclidean. The answer is exact: the same neighbours, in the same order, as a
// float64 brute force that sums (x_t - b_t)^2 over features t in ascending order, with ties broken by
// the smaller base index; the distances are those float64 sums rounded to float32. It does not depend on
// the thread count. Arguments are validated natively: bad ones throw (or reject with) a TypeError or
// RangeError naming the argument (`queries` is `x`, `base` is `opts.base`).

import { type KnnDevice, type KnnSearchOptions, native } from '../native.js';

export interface KNearestOptions {
  /** Rows to search in (m x d). Absent: the rows of x themselves. */
  base?: Float32Array;
  /** Row i of x never gets base row i (for x searched among itself). Default false. */
  excludeSelf?: boolean;
  /** Threads for the search (absent or 0: OpenMP's default). */
  threads?: number;
  /** Where the search runs (default 'cpu'; 'cuda' needs a CUDA build and a GPU). The answer is the same. */
  device?: KnnDevice;
}

export interface KNearestResult {
  /** N x k row-major, nearest first, ties by smaller index. */
  indices: Int32Array;
  /** Squared Euclidean distances matching `indices`. */
  distances: Float32Array;
}

function nativeOptions(opts: KNearestOptions): KnnSearchOptions {
  const options: KnnSearchOptions = {};
  if (opts.excludeSelf !== undefined) options.excludeSelf = opts.excludeSelf;
  if (opts.threads !== undefined) options.threads = opts.threads;
  if (opts.device !== undefined) options.device = opts.device;
  return options;
}

/** The k nearest rows of `opts.base` (default: of x itself) for every row of x (N x d, row-major). */
export async function kNearest(
  x: Float32Array,
  d: number,
  k: number,
  opts: KNearestOptions = {},
): Promise<KNearestResult> {
  const { indices, distances } = await native().knnSearch(x, opts.base ?? null, d, k, nativeOptions(opts));
  return { indices, distances };
}

/** kNearest on the calling thread: for small inputs, where a worker round trip costs more than the search. */
export function kNearestSync(
  x: Float32Array,
  d: number,
  k: number,
  opts: KNearestOptions = {},
): KNearestResult {
  const { indices, distances } = native().knnSearchSync(x, opts.base ?? null, d, k, nativeOptions(opts));
  return { indices, distances };
}
