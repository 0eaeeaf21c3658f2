// SMOTE (Chawla et al., 2002) with imbalanced-learn's semantics: for each class to over-sample, every member
// is a base; its partners are its k nearest neighbours within the class.

import { interpolateFromTable } from './interpolate.js';
import { nearestOthers } from './neighbours.js';
import { OverSampler, type ResampleJob } from './sampler.js';
import type { SamplerOptions } from './types.js';
import { type ClassIndex, requireClassSize, requireInteger, requireNeighbourCount } from './validate.js';

export interface SMOTEOptions extends SamplerOptions {
  /** Neighbours within the class to interpolate towards (default 5, as imbalanced-learn). */
  kNeighbors?: number;
}

export class SMOTE extends OverSampler {
  readonly kNeighbors: number;

  constructor(options: SMOTEOptions = {}) {
    super(options);
    this.kNeighbors = requireInteger('kNeighbors', options.kNeighbors ?? 5, 1);
  }

  protected checkRequirements(rows: number, classes: ClassIndex, wanted: Map<number, number>): void {
    requireNeighbourCount('kNeighbors', this.kNeighbors, rows);
    for (const label of wanted.keys()) {
      const has = classes.members.get(label)!.length;
      requireClassSize('kNeighbors', 'SMOTE', label, has, this.kNeighbors + 1);
    }
  }

  protected async generate({ x, d, classes, wanted, rng, out, search }: ResampleJob): Promise<void> {
    const k = this.kNeighbors;
    for (const [label, count] of wanted) {
      const members = classes.members.get(label)!;
      const neighbours = await nearestOthers(x, d, members, members, k, search);
      interpolateFromTable(out, label, { bases: members, neighbours, k }, count, rng);
    }
  }
}
