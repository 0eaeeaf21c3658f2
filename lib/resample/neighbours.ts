// Neighbour tables the samplers need, in global row indices, built on the k-NN search (exact unless the
// sampler's knn option asks for an approximate one).
//
// Every table here answers "the k nearest OTHER rows of each query row among a candidate set that contains
// it" (imbalanced-learn's `kneighbors(X)[:, 1:]`): a row is never its own neighbour.

import { type KNearestSearchOptions, kNearestRecorded } from './knn.js';
import type { KnnSearchRecord } from './knn-method.js';

/** How a sampler searches: threads, device, method (KnnChoice), index seed and signal; each search is appended to
 * `records` when given. */
export interface NeighbourSearch
  extends Pick<KNearestSearchOptions, 'threads' | 'device' | 'knn' | 'seed' | 'signal'> {
  records?: KnnSearchRecord[];
}

/** Copies the listed rows of x (N x d) into a new contiguous rows.length x d buffer. */
export function gatherRows(x: Float32Array, d: number, rows: Int32Array): Float32Array {
  const out = new Float32Array(rows.length * d);
  for (let i = 0; i < rows.length; i++) out.set(x.subarray(rows[i] * d, rows[i] * d + d), i * d);
  return out;
}

function queriesAreCandidates(queries: Int32Array, candidates: Int32Array | 'all'): boolean {
  if (candidates !== 'all' && queries.length !== candidates.length) return false;
  for (let i = 0; i < queries.length; i++) {
    if (queries[i] !== (candidates === 'all' ? i : candidates[i])) return false;
  }
  return true;
}

/**
 * For each row in `queries`, its k nearest other rows among `candidates` (ascending global indices that
 * include every query; 'all' = every row of x). Returns queries.length x k global indices, nearest first.
 */
export async function nearestOthers(
  x: Float32Array,
  d: number,
  queries: Int32Array,
  candidates: Int32Array | 'all',
  k: number,
  search: NeighbourSearch = {},
): Promise<Int32Array> {
  const candidateCount = candidates === 'all' ? x.length / d : candidates.length;
  if (k >= candidateCount) throw new RangeError(`k: ${k} neighbours need ${k + 1} candidate rows`);
  const toGlobal = (local: number) => (candidates === 'all' ? local : candidates[local]);
  const base = candidates === 'all' ? x : gatherRows(x, d, candidates);
  const { records, ...options } = search;

  if (queries.length === candidateCount && queriesAreCandidates(queries, candidates)) {
    // The queries are the whole candidate set, in order: let the search skip each row itself.
    const { indices, search: record } = await kNearestRecorded(base, d, k, { ...options, excludeSelf: true });
    records?.push(record);
    return candidates === 'all' ? indices : indices.map(toGlobal);
  }

  // A subset of the candidates: search k + 1 and drop the query itself. When it is missing from its own
  // list (k + 1 exact duplicates with smaller indices), the last entry goes instead, which is what a
  // self-excluding search would return (and what an approximate search that missed the query itself needs).
  const found = await kNearestRecorded(gatherRows(x, d, queries), d, k + 1, { ...options, base });
  records?.push(found.search);
  const { indices } = found;
  const out = new Int32Array(queries.length * k);
  for (let q = 0; q < queries.length; q++) {
    let written = 0;
    let skipped = false;
    for (let j = 0; j <= k && written < k; j++) {
      const neighbour = toGlobal(indices[q * (k + 1) + j]);
      if (!skipped && neighbour === queries[q]) {
        skipped = true;
        continue;
      }
      out[q * k + written++] = neighbour;
    }
  }
  return out;
}
