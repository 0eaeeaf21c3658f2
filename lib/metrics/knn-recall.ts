// Recall@k of an approximate nearest-neighbour table against the exact one: for each query, the share of its
// k exact neighbours that the approximate search also returned (order ignored), averaged over the queries.
// The exact table's k-th place may be tied with rows outside it; a tied row returned instead counts as a
// miss, so recall is at worst understated.

/** Mean over queries of |approx_i ∩ exact_i| / k; both tables are queries x k row indices. */
export function recallAtK(approx: Int32Array, exact: Int32Array, k: number): number {
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`k: expected an integer >= 1, got ${k}`);
  if (approx.length !== exact.length || exact.length % k !== 0 || exact.length === 0) {
    throw new RangeError(
      `approx and exact must be the same non-empty queries x k tables, got ${approx.length} and ${exact.length} entries for k = ${k}`,
    );
  }
  const queries = exact.length / k;
  const truth = new Set<number>();
  let hits = 0;
  for (let q = 0; q < queries; q++) {
    truth.clear();
    for (let j = 0; j < k; j++) truth.add(exact[q * k + j]);
    for (let j = 0; j < k; j++) if (truth.has(approx[q * k + j])) hits++;
  }
  return hits / (queries * k);
}
