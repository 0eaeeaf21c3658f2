// ADASYN (He, Bai, Garcia & Li, 2008) with imbalanced-learn's semantics (over_sampling/_adasyn.py):
// 1. each row of the class gets its n nearest neighbours among ALL rows (itself excluded);
//    ratio_i = (neighbours of another class) / n;
// 2. ratio is normalised to sum 1 and row i gets rint(ratio_i * requested) synthetic rows (numpy's rint,
//    halves to even), so the class may end a few rows above or below the requested count, as in imblearn;
// 3. each such row interpolates from row i towards one of its n nearest neighbours WITHIN the class, chosen
//    uniformly, with a coefficient in [0, 1).

import { nearestOthers } from './neighbours.js';
import { numpySum, roundHalfToEven } from './numpy-arithmetic.js';
import { OverSampler, type ResampleJob } from './sampler.js';
import type { SamplerOptions } from './types.js';
import { UndefinedOnDataError } from './undefined-on-data.js';
import {
  type ClassIndex,
  requireClassSize,
  requireInteger,
  requireNeighbourCount,
  validateInput,
} from './validate.js';

export interface ADASYNOptions extends SamplerOptions {
  /** Neighbours for both the difficulty ratio and the interpolation (default 5, imblearn's n_neighbors). */
  nNeighbors?: number;
}

/**
 * Per-row generation counts of one class from its n neighbours among all rows (members.length x n table),
 * computed with numpy's float64 operations in imbalanced-learn's order.
 */
export function adasynCounts(
  y: Int32Array,
  label: number,
  neighbours: Int32Array,
  n: number,
  requested: number,
): Int32Array {
  const rows = neighbours.length / n;
  const ratio = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    let other = 0;
    for (let j = 0; j < n; j++) if (y[neighbours[i * n + j]] !== label) other++;
    ratio[i] = other / n;
  }
  const total = numpySum(ratio);
  if (total === 0) {
    throw new UndefinedOnDataError(
      `y: no row of class ${label} has another class among its ${n} nearest neighbours, so ADASYN's ` +
        'weights are undefined (imbalanced-learn raises here too); use SMOTE or EOS for this data',
    );
  }
  const counts = new Int32Array(rows);
  for (let i = 0; i < rows; i++) counts[i] = roundHalfToEven((ratio[i] / total) * requested);
  return counts;
}

export class ADASYN extends OverSampler {
  readonly nNeighbors: number;

  constructor(options: ADASYNOptions = {}) {
    super(options);
    this.nNeighbors = requireInteger('nNeighbors', options.nNeighbors ?? 5, 1);
  }

  /** Rows ADASYN would generate from each row of class `label` (in y order) when asked for `requested`. */
  async generationCounts(
    x: Float32Array,
    y: Int32Array,
    d: number,
    label: number,
    requested: number,
  ): Promise<Int32Array> {
    const classes = validateInput(x, y, d);
    const members = classes.members.get(label);
    if (members === undefined) throw new RangeError(`label: class ${label} is not present in y`);
    requireInteger('requested', requested, 1);
    requireNeighbourCount('nNeighbors', this.nNeighbors, y.length);
    const neighbours = await nearestOthers(x, d, members, 'all', this.nNeighbors, this.neighbourSearch());
    return adasynCounts(y, label, neighbours, this.nNeighbors, requested);
  }

  protected checkRequirements(rows: number, classes: ClassIndex, wanted: Map<number, number>): void {
    requireNeighbourCount('nNeighbors', this.nNeighbors, rows);
    for (const label of wanted.keys()) {
      const has = classes.members.get(label)!.length;
      requireClassSize('nNeighbors', 'ADASYN', label, has, this.nNeighbors + 1);
    }
  }

  protected async generate({ x, y, d, classes, wanted, rng, out, search }: ResampleJob): Promise<void> {
    const n = this.nNeighbors;
    for (const [label, requested] of wanted) {
      const members = classes.members.get(label)!;
      const amongAll = await nearestOthers(x, d, members, 'all', n, search);
      const counts = adasynCounts(y, label, amongAll, n, requested);
      if (counts.every((count) => count === 0)) {
        throw new UndefinedOnDataError(
          `samplingStrategy: class ${label} asks for ${requested} rows, but ADASYN's rounding spreads them ` +
            `over ${members.length} rows as 0 each (imbalanced-learn raises here too)`,
        );
      }
      const withinClass = await nearestOthers(x, d, members, members, n, search);
      for (let i = 0; i < members.length; i++) {
        for (let c = 0; c < counts[i]; c++) {
          const partner = withinClass[i * n + rng.below(n)];
          out.add(label, members[i], partner, rng.uniform());
        }
      }
    }
  }
}
