// Expansive Over-Sampling (EOS), phase 2 of the method (the EOS paper's algorithm and its reference code):
// 1. each row of a class to over-sample gets its k nearest neighbours among ALL rows (itself excluded);
// 2. a row is an eligible base if at least one of those neighbours has another label (an "enemy");
// 3. per synthetic row: a base uniformly (with replacement) from the class's eligible bases, one of ITS
//    enemies uniformly, r uniform in [0, maxCoefficient), point = base + r (enemy - base);
// 4. a class with no eligible base falls back to SMOTE among its own members, and the result says so.

import type { Xoshiro128 } from '../random.js';
import { interpolateFromTable } from './interpolate.js';
import { nearestOthers } from './neighbours.js';
import { OverSampler, type ResampleJob } from './sampler.js';
import type { SyntheticRows } from './synthetic-rows.js';
import type { SamplerOptions } from './types.js';
import { type ClassIndex, requireInteger, requireNeighbourCount } from './validate.js';

export interface EOSOptions extends SamplerOptions {
  /** Neighbours searched among all rows (default 10, as the paper and its reference code). */
  kNeighbors?: number;
  /**
   * Upper bound of the interpolation coefficient, in (0, 1] (default 1, the paper). At 0.5 every synthetic
   * row stays on the base's side of the base-enemy midpoint.
   */
  maxCoefficient?: number;
  /**
   * FOR ABLATIONS ONLY; never a default. The released EOS reference script chooses an enemy by its rank in
   * the self-excluded neighbour list but then reads the self-INCLUDED table at that rank, so it interpolates
   * towards the neighbour ranked just before the chosen enemy (the base itself when the enemy is the
   * nearest neighbour). true reproduces that bug; provenance then names the row actually used as partner.
   */
  reproduceReferenceScriptOffByOneBug?: boolean;
}

export class EOS extends OverSampler {
  readonly kNeighbors: number;
  readonly maxCoefficient: number;
  readonly reproduceReferenceScriptOffByOneBug: boolean;

  constructor(options: EOSOptions = {}) {
    super(options);
    this.kNeighbors = requireInteger('kNeighbors', options.kNeighbors ?? 10, 1);
    const maxCoefficient = options.maxCoefficient ?? 1;
    if (typeof maxCoefficient !== 'number' || !(maxCoefficient > 0 && maxCoefficient <= 1)) {
      throw new RangeError(`maxCoefficient: expected a number in (0, 1], got ${String(maxCoefficient)}`);
    }
    this.maxCoefficient = maxCoefficient;
    const bug = options.reproduceReferenceScriptOffByOneBug ?? false;
    if (typeof bug !== 'boolean')
      throw new TypeError('reproduceReferenceScriptOffByOneBug: expected a boolean');
    this.reproduceReferenceScriptOffByOneBug = bug;
  }

  protected checkRequirements(rows: number): void {
    // No per-class minimum: a class of n <= k rows always has an enemy among its k neighbours. A class
    // without any eligible base therefore has at least k + 1 rows, enough for the SMOTE fallback.
    requireNeighbourCount('kNeighbors', this.kNeighbors, rows);
  }

  protected async generate({ x, y, d, classes, wanted, rng, out, search }: ResampleJob): Promise<void> {
    const k = this.kNeighbors;
    // One search for the rows of every class to over-sample (all of them at once keeps the native search
    // busy; the majority class is usually left out, which saves most of the work).
    const queries = rowsOfClasses(classes, [...wanted.keys()]);
    const table = await nearestOthers(x, d, queries, 'all', k, search);
    let offset = 0;
    for (const [label, count] of wanted) {
      const members = classes.members.get(label)!;
      const neighbours = table.subarray(offset * k, (offset + members.length) * k);
      offset += members.length;
      const eligible = eligibleBases(y, label, neighbours, k);
      if (eligible.length === 0) {
        // Every member's k neighbours are of its own class, so this table is also the within-class k-NN
        // table SMOTE would build: interpolate among members.
        interpolateFromTable(out, label, { bases: members, neighbours, k }, count, rng);
        out.report({
          label,
          reason: 'no-eligible-base',
          action: 'within-class-smote',
          requested: count,
          generated: count,
          message:
            `class ${label}: none of its ${members.length} rows has another class among its ${k} nearest ` +
            'neighbours; generated its rows by SMOTE among its own members',
        });
        continue;
      }
      this.interpolateTowardsEnemies(out, y, label, members, neighbours, eligible, count, rng);
    }
  }

  private interpolateTowardsEnemies(
    out: SyntheticRows,
    labels: Int32Array,
    label: number,
    members: Int32Array,
    neighbours: Int32Array,
    eligible: Int32Array,
    count: number,
    rng: Xoshiro128,
  ): void {
    const k = this.kNeighbors;
    const enemyRanks = new Int32Array(k);
    for (let i = 0; i < count; i++) {
      const local = eligible[rng.below(eligible.length)];
      const base = members[local];
      const row = neighbours.subarray(local * k, local * k + k);
      let enemies = 0;
      for (let rank = 0; rank < k; rank++) if (labels[row[rank]] !== label) enemyRanks[enemies++] = rank;
      const rank = enemyRanks[rng.below(enemies)];
      out.add(label, base, this.partnerAt(base, row, rank), this.maxCoefficient * rng.uniform());
    }
  }

  /** The enemy at `rank` of the base's neighbour row; with the reference-script bug, the row ranked just
   * before it in the self-included table (rank 0 of that table is the base itself). */
  private partnerAt(base: number, row: Int32Array, rank: number): number {
    if (!this.reproduceReferenceScriptOffByOneBug) return row[rank];
    return rank === 0 ? base : row[rank - 1];
  }
}

/** Ascending rows of the given classes, concatenated class by class in the given order. */
function rowsOfClasses(classes: ClassIndex, labels: number[]): Int32Array {
  const parts = labels.map((label) => classes.members.get(label)!);
  const rows = new Int32Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    rows.set(part, at);
    at += part.length;
  }
  return rows;
}

/** Positions (within the class) of the members with at least one enemy among their k neighbours. */
function eligibleBases(y: Int32Array, label: number, neighbours: Int32Array, k: number): Int32Array {
  const rows = neighbours.length / k;
  const eligible: number[] = [];
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < k; j++) {
      if (y[neighbours[i * k + j]] !== label) {
        eligible.push(i);
        break;
      }
    }
  }
  return Int32Array.from(eligible);
}
