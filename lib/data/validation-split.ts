// A seeded, stratified train/validation split carved from a training set (phase 3 may select on it; nothing
// ever selects on the test set). Each class gives round(n_c * fraction) of its images to validation, chosen
// by a seeded shuffle, but always keeps at least one for training; a class too small for its share to round
// to one image contributes none.

import { checkDataset, subsetDataset } from './dataset-ops.js';
import { indicesByClass, shuffleInPlace, Xoshiro128 } from './seeded-shuffle.js';
import type { Dataset } from './types.js';

export interface SplitOptions {
  /** Share of each class that goes to validation, in [0, 1). */
  fraction: number;
  seed: number;
}

export interface IndexSplit {
  /** Row indices, ascending. */
  train: Int32Array;
  validation: Int32Array;
}

export function stratifiedSplitIndices(
  labels: Int32Array,
  classes: number,
  options: SplitOptions,
): IndexSplit {
  const { fraction } = options;
  if (!(fraction >= 0 && fraction < 1))
    throw new RangeError(`fraction: expected a number in [0, 1), got ${String(fraction)}`);
  for (let i = 0; i < labels.length; i++) {
    if (!(labels[i] >= 0 && labels[i] < classes))
      throw new RangeError(`labels[${i}] = ${labels[i]} is outside [0, ${classes})`);
  }
  const rng = new Xoshiro128(options.seed);
  const train: number[] = [];
  const validation: number[] = [];
  for (const members of indicesByClass(labels, classes)) {
    const take = Math.max(0, Math.min(Math.round(members.length * fraction), members.length - 1));
    const shuffled = shuffleInPlace(members, rng);
    for (let i = 0; i < shuffled.length; i++) (i < take ? validation : train).push(shuffled[i]);
  }
  return {
    train: Int32Array.from(train).sort(),
    validation: Int32Array.from(validation).sort(),
  };
}

export interface DatasetSplit {
  train: Dataset;
  validation: Dataset;
  indices: IndexSplit;
}

export function splitValidation(data: Dataset, options: SplitOptions): DatasetSplit {
  checkDataset(data, 'data');
  const indices = stratifiedSplitIndices(data.labels, data.classes, options);
  return {
    train: subsetDataset(data, indices.train),
    validation: subsetDataset(data, indices.validation),
    indices,
  };
}
