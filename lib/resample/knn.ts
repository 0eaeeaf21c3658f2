// k-nearest-neighbour search for the samplers: a typed wrapper over the native kernels, exact (native/knn,
// bound in native/addon/knn_binding.cc) by default, or approximate over libfaiss (native/knn/approx_knn.h,
// native/addon/approx_knn_binding.cc) when `opts.knn` asks for it (lib/resample/knn-method.ts).
//
// Distances are squared Euclidean. The exact answer is exact: the same neighbours, in the same order, as a
// float64 brute force that sums (x_t - b_t)^2 over features t in ascending order, with ties broken by
// the smaller base index; the distances are those float64 sums rounded to float32. It does not depend on
// the thread count. Arguments are validated natively: bad ones throw (or reject with) a TypeError or
// RangeError naming the argument (`queries` is `x`, `base` is `opts.base`). An approximate answer has k
// distinct rows per query, nearest first as the index ranks them, with faiss's float32 distances; how close
// it comes to the exact one is measured by lib/metrics/knn-recall.ts.

import { type KnnDevice, type KnnSearchOptions, native } from '../native.js';
import { stopFlagFor } from '../stop-flag.js';
import { type KnnChoice, type KnnSearchRecord, resolveKnn } from './knn-method.js';

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

export interface KNearestSearchOptions extends KNearestOptions {
  /** Which search (default exact); see lib/resample/knn-method.ts. */
  knn?: KnnChoice;
  /** Seed of an approximate index when knn.seed is absent (a sampler's seed); default 0. */
  seed?: number;
  /** Stops an approximate search between tiles (the promise rejects with AbortError). */
  signal?: AbortSignal;
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

/**
 * The k nearest rows of `opts.base` (default: of x itself) for every row of x (N x d, row-major), by the
 * search `opts.knn` resolves to for that base (default exact).
 */
export async function kNearest(
  x: Float32Array,
  d: number,
  k: number,
  opts: KNearestSearchOptions = {},
): Promise<KNearestResult> {
  const { indices, distances } = await kNearestRecorded(x, d, k, opts);
  return { indices, distances };
}

/** kNearest, plus the record of what ran (the method and the parameters it resolved to). */
export async function kNearestRecorded(
  x: Float32Array,
  d: number,
  k: number,
  opts: KNearestSearchOptions = {},
): Promise<KNearestResult & { search: KnnSearchRecord }> {
  const addon = native();
  const base = opts.base ?? null;
  const queries = x.length / d;
  const baseRows = base === null ? queries : base.length / d;
  // Seeds of the native index are 32-bit; a sampler's may be any safe integer.
  const resolved = resolveKnn(opts.knn, baseRows, (opts.seed ?? 0) % 2 ** 32, addon.info());
  const shape = { queries, baseRows, k };
  if (resolved.method === 'exact') {
    const { indices, distances } = await addon.knnSearch(x, base, d, k, nativeOptions(opts));
    return { indices, distances, search: { method: 'exact', ...shape, ...reasonOf(resolved) } };
  }
  const stop = stopFlagFor(opts.signal);
  try {
    const { indices, distances, stats } = await addon.approxKnnSearch(
      x,
      base,
      d,
      k,
      // The approximate indexes run on the CPU (libfaiss), wherever opts.device would run the exact search.
      { ...resolved, ...nativeOptions({ ...opts, device: undefined }) },
      stop.flag,
    );
    const common = { ...shape, seed: stats.seed, exactFallbackRows: stats.exactFallbackRows };
    const search: KnnSearchRecord =
      stats.method === 'ivf'
        ? { method: 'ivf', ivf: stats.ivf!, ...common }
        : { method: 'hnsw', hnsw: stats.hnsw!, ...common };
    return { indices, distances, search };
  } finally {
    stop.dispose();
  }
}

function reasonOf(r: { reason?: string }): { reason?: string } {
  return r.reason === undefined ? {} : { reason: r.reason };
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
