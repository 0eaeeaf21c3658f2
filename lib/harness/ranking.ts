// Which methods the report names best: the rows comparable with each other, ranked by mean balanced accuracy.
import type { MethodRow } from './method-rows.js';

/** How many methods the per-class table and plot show (plus the CE baseline when it is not among them). */
export const BEST_COUNT = 4;

/**
 * The rows that may be ranked against each other: those with a balanced accuracy over the most seeds any row
 * has. A mean over fewer seeds (a seed not finished yet, or one where the method is undefined) is over other
 * splits, so it is shown but neither ranked best nor picked for the per-class table.
 */
export function comparableRows(rows: readonly MethodRow[]): MethodRow[] {
  const scored = rows.filter((r) => r.metrics.balancedAccuracy.mean !== null);
  const most = Math.max(0, ...scored.map((r) => r.seeds));
  return scored.filter((r) => r.seeds === most);
}

/** Row ids of the BEST_COUNT best comparable rows by mean balanced accuracy, and the CE baseline's. */
export function bestRows(rows: readonly MethodRow[]): string[] {
  const ranked = comparableRows(rows)
    .slice()
    .sort((a, b) => (b.metrics.balancedAccuracy.mean ?? 0) - (a.metrics.balancedAccuracy.mean ?? 0));
  const best = ranked.slice(0, BEST_COUNT).map((r) => r.id);
  if (!best.includes('ce') && ranked.some((r) => r.id === 'ce')) best.push('ce');
  return best;
}
