// The paired statistics of a report: the main sampler against the other methods, seed by seed.
import type { MethodRow } from './method-rows.js';
import type { ComparisonSettings } from './plan.js';
import { balancedAccuracyBySeed, type PlanResults } from './plan-results.js';
import { type PairedDifference, pairedDifference } from './statistics.js';

/** The main sampler on one backbone against another method, seed by seed (balanced accuracy). */
export interface PairedRow {
  /** The main sampler's row id (e.g. 'ce+eos') and the other method's (e.g. 'ce+smote' or 'focal'). */
  mainId: string;
  mainLabel: string;
  otherId: string;
  otherLabel: string;
  /** main minus other, per seed where both finished. */
  comparison: PairedDifference;
}

/** On a full backbone the main sampler against every other row, elsewhere against its backbone's phase-1-only row. */
export function pairedRows(
  settings: ComparisonSettings,
  rows: readonly MethodRow[],
  found: PlanResults,
): PairedRow[] {
  const rowValues = (row: MethodRow) =>
    balancedAccuracyBySeed(
      settings.seeds,
      row.sampler === null ? found.backbone(row.backbone) : found.sampler(row.backbone, row.sampler),
    );
  const paired: PairedRow[] = [];
  for (const main of rows.filter((r) => r.sampler === settings.mainSampler)) {
    const full = settings.fullBackbones.includes(main.backbone);
    const others = rows.filter(
      (r) => r !== main && (full || (r.backbone === main.backbone && r.sampler === null)),
    );
    const mainValues = rowValues(main);
    for (const other of others) {
      const comparison = pairedDifference(mainValues, rowValues(other));
      // A method with no seed in common (not run yet, or failed) has nothing to compare.
      if (comparison.difference.n === 0) continue;
      paired.push({
        mainId: main.id,
        mainLabel: main.label,
        otherId: other.id,
        otherLabel: other.label,
        comparison,
      });
    }
  }
  return paired;
}
