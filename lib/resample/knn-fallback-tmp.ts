// TEMPORARY brute-force stand-in for lib/resample/knn.ts (the native search), same signatures, so the
// samplers can be written and tested before the addon exists. Delete once knn.ts lands.

export interface KNearestOptions {
  base?: Float32Array;
  excludeSelf?: boolean;
  threads?: number;
}

export interface KNearestResult {
  /** N x k row-major, nearest first, ties by smaller index. */
  indices: Int32Array;
  /** Squared Euclidean distances matching `indices`. */
  distances: Float32Array;
}

export function kNearestSync(
  x: Float32Array,
  d: number,
  k: number,
  opts: KNearestOptions = {},
): KNearestResult {
  const base = opts.base ?? x;
  const queries = x.length / d;
  const rows = base.length / d;
  const excludeSelf = opts.excludeSelf === true;
  const available = excludeSelf ? rows - 1 : rows;
  if (!Number.isInteger(queries) || !Number.isInteger(rows))
    throw new RangeError('x: length is not a multiple of d');
  if (!Number.isInteger(k) || k < 1 || k > available) {
    throw new RangeError(`k: expected an integer in [1, ${available}], got ${k}`);
  }
  const indices = new Int32Array(queries * k);
  const distances = new Float32Array(queries * k);
  const order = new Int32Array(rows);
  const dist = new Float64Array(rows);
  for (let q = 0; q < queries; q++) {
    for (let r = 0; r < rows; r++) {
      let sum = 0;
      for (let j = 0; j < d; j++) {
        const diff = x[q * d + j] - base[r * d + j];
        sum += diff * diff;
      }
      dist[r] = sum;
      order[r] = r;
    }
    if (excludeSelf) dist[q] = Infinity;
    order.sort((a, b) => dist[a] - dist[b] || a - b);
    for (let j = 0; j < k; j++) {
      indices[q * k + j] = order[j];
      distances[q * k + j] = dist[order[j]];
    }
  }
  return { indices, distances };
}

export async function kNearest(
  x: Float32Array,
  d: number,
  k: number,
  opts: KNearestOptions = {},
): Promise<KNearestResult> {
  return kNearestSync(x, d, k, opts);
}
