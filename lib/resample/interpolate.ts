// The SMOTE family's generation step (imbalanced-learn's BaseSMOTE._make_samples): draw one (base, neighbour)
// pair uniformly among all bases x k table entries, a coefficient uniformly in [0, step), and interpolate.

import type { Xoshiro128 } from '../random.js';
import type { SyntheticRows } from './synthetic-rows.js';

export interface NeighbourTable {
  /** Global indices of the rows that may serve as bases. */
  bases: Int32Array;
  /** bases.length x k global indices: row i lists the neighbours of bases[i]. */
  neighbours: Int32Array;
  k: number;
}

/**
 * Adds `count` rows labelled `label`. `stepFor(partner)` bounds the coefficient (1 for SMOTE; Borderline-SMOTE
 * kind 2 uses 0.5 towards other-class partners).
 */
export function interpolateFromTable(
  out: SyntheticRows,
  label: number,
  table: NeighbourTable,
  count: number,
  rng: Xoshiro128,
  stepFor: (partner: number) => number = () => 1,
): void {
  const { bases, neighbours, k } = table;
  const entries = bases.length * k;
  for (let i = 0; i < count; i++) {
    const entry = rng.below(entries);
    const base = bases[Math.floor(entry / k)];
    const partner = neighbours[entry];
    out.add(label, base, partner, stepFor(partner) * rng.uniform());
  }
}
