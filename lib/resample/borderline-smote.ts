// Borderline-SMOTE (Han, Wang & Mao, 2005) with imbalanced-learn's semantics.
//
// Danger set of a class: its rows whose m nearest neighbours among ALL rows (itself excluded) hold n_other
// rows of other classes with m/2 <= n_other < m (imbalanced-learn's `_in_danger_noise(kind='danger')`; rows
// with n_other = m are noise and are not used). Only rows in danger serve as bases.
// - 'borderline-1': partners are the base's k nearest neighbours within its class; coefficient in [0, 1).
// - 'borderline-2': partners are the base's k nearest neighbours among ALL rows; coefficient in [0, 1)
//   towards a same-class partner and in [0, 0.5) towards another class's, as the paper describes.
//   Why not imbalanced-learn 0.10's code: it splits the rows Beta(10, 10)-wise and indexes the other-class
//   rows with within-class neighbour positions (a bug, fixed in imbalanced-learn 0.11 by searching all rows,
//   imbalanced-learn PR #1023). We follow 0.11's neighbour set plus the paper's 0.5 bound, and we generate
//   exactly the requested count (0.10's split can fall one row short).
// A class with an empty danger set gets no rows, as in imbalanced-learn, and the result reports it.

import { interpolateFromTable } from './interpolate.js';
import { type NeighbourSearch, nearestOthers } from './neighbours.js';
import { OverSampler, type ResampleJob } from './sampler.js';
import type { SamplerOptions } from './types.js';
import {
  type ClassIndex,
  requireClassSize,
  requireInteger,
  requireNeighbourCount,
  validateInput,
} from './validate.js';

export type BorderlineKind = 'borderline-1' | 'borderline-2';

export interface BorderlineSMOTEOptions extends SamplerOptions {
  /** Neighbours to interpolate towards (default 5). */
  kNeighbors?: number;
  /** Neighbours among all rows that decide whether a row is in danger (default 10). */
  mNeighbors?: number;
  /** Default 'borderline-1'. */
  kind?: BorderlineKind;
}

/** 1 where a class member is in danger, from its m neighbours' labels (members.length x m table). */
export function dangerFlags(y: Int32Array, label: number, neighbours: Int32Array, m: number): Uint8Array {
  const rows = neighbours.length / m;
  const flags = new Uint8Array(rows);
  for (let i = 0; i < rows; i++) {
    let other = 0;
    for (let j = 0; j < m; j++) if (y[neighbours[i * m + j]] !== label) other++;
    flags[i] = other >= m / 2 && other < m ? 1 : 0;
  }
  return flags;
}

export class BorderlineSMOTE extends OverSampler {
  readonly kNeighbors: number;
  readonly mNeighbors: number;
  readonly kind: BorderlineKind;

  constructor(options: BorderlineSMOTEOptions = {}) {
    super(options);
    this.kNeighbors = requireInteger('kNeighbors', options.kNeighbors ?? 5, 1);
    this.mNeighbors = requireInteger('mNeighbors', options.mNeighbors ?? 10, 1);
    const kind = options.kind ?? 'borderline-1';
    if (kind !== 'borderline-1' && kind !== 'borderline-2') {
      throw new RangeError(`kind: expected 'borderline-1' or 'borderline-2', got ${String(kind)}`);
    }
    this.kind = kind;
  }

  /**
   * The danger flags of every row of class `label` (in the order of its rows in y), as imbalanced-learn's
   * `_in_danger_noise(..., kind='danger')` computes them.
   */
  async dangerSet(x: Float32Array, y: Int32Array, d: number, label: number): Promise<Uint8Array> {
    const classes = validateInput(x, y, d);
    const members = classes.members.get(label);
    if (members === undefined) throw new RangeError(`label: class ${label} is not present in y`);
    requireNeighbourCount('mNeighbors', this.mNeighbors, y.length);
    return this.dangerOf(x, y, d, members, this.neighbourSearch());
  }

  protected checkRequirements(rows: number, classes: ClassIndex, wanted: Map<number, number>): void {
    requireNeighbourCount('mNeighbors', this.mNeighbors, rows);
    requireNeighbourCount('kNeighbors', this.kNeighbors, rows);
    if (this.kind !== 'borderline-1') return;
    for (const label of wanted.keys()) {
      const has = classes.members.get(label)!.length;
      requireClassSize('kNeighbors', 'Borderline-SMOTE', label, has, this.kNeighbors + 1);
    }
  }

  protected async generate({ x, y, d, classes, wanted, rng, out, search }: ResampleJob): Promise<void> {
    const k = this.kNeighbors;
    for (const [label, count] of wanted) {
      const members = classes.members.get(label)!;
      const flags = await this.dangerOf(x, y, d, members, search);
      const danger = members.filter((_, i) => flags[i] === 1);
      if (danger.length === 0) {
        out.report({
          label,
          reason: 'empty-danger-set',
          action: 'skipped',
          requested: count,
          generated: 0,
          message:
            `class ${label}: none of its ${members.length} rows is in danger (m = ${this.mNeighbors}); ` +
            'no rows generated for it, as imbalanced-learn does',
        });
        continue;
      }
      if (this.kind === 'borderline-1') {
        const neighbours = await nearestOthers(x, d, danger, members, k, search);
        interpolateFromTable(out, label, { bases: danger, neighbours, k }, count, rng);
      } else {
        const neighbours = await nearestOthers(x, d, danger, 'all', k, search);
        const step = (partner: number) => (y[partner] === label ? 1 : 0.5);
        interpolateFromTable(out, label, { bases: danger, neighbours, k }, count, rng, step);
      }
    }
  }

  private async dangerOf(
    x: Float32Array,
    y: Int32Array,
    d: number,
    members: Int32Array,
    search: NeighbourSearch,
  ): Promise<Uint8Array> {
    const m = this.mNeighbors;
    const neighbours = await nearestOthers(x, d, members, 'all', m, search);
    return dangerFlags(y, y[members[0]], neighbours, m);
  }
}
