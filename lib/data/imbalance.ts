// Long-tailed training sets carved from a balanced one, as in the reference code's
// IMBALANCECIFAR10.get_img_num_per_cls:
//   exp:  class c keeps floor(n_max * (1/ratio)^(c/(C-1)))   (ratio 100, CIFAR-10: 5000, 2997, ..., 50)
//   step: the first floor(C/2) classes keep n_max, the rest floor(n_max/ratio)
// Class 0 is the head, class C-1 the tail. (For odd C the reference code drops the last class; here it joins
// the minority half.)
//   none: every class keeps what it has (a data set that is imbalanced already, such as a user's image
//         folder), up to n_max when one is given.
//
// Which images stay is a seeded choice: each class's indices are shuffled (Fisher-Yates, xoshiro128**) and
// the first n_c kept. The shuffle draws the same numbers whatever n_c is, so with one seed a larger ratio keeps
// a subset of what a smaller ratio keeps, and the same seed gives the same indices on every machine.

import { checkDataset, subsetDataset } from './dataset-ops.js';
import { indicesByClass, shuffleInPlace, Xoshiro128 } from './seeded-shuffle.js';
import type { Dataset } from './types.js';

export type ImbalanceType = 'exp' | 'step' | 'none';

/** An imbalance profile's words for a report: "exp imbalance ratio 100", or "its own class counts". */
export function describeImbalance(i: { type: ImbalanceType; ratio: number }): string {
  return i.type === 'none' ? 'its own class counts' : `${i.type} imbalance ratio ${i.ratio}`;
}

export interface ImbalanceOptions {
  type: ImbalanceType;
  /** n_max / n_min, >= 1 (1 keeps n_max of every class). */
  ratio: number;
  seed: number;
  /** n_max; default = the size of the smallest class, which for a balanced set is its per-class count. */
  maxPerClass?: number;
}

export interface ImbalancedDataset extends Dataset {
  /** Row indices into the source data set that were kept, ascending (the subset keeps the source order). */
  indices: Int32Array;
  /** Images kept per class. */
  counts: number[];
}

/** Per-class target counts for `classes` classes with n_max = `maxPerClass`. */
export function imbalancedCounts(
  maxPerClass: number,
  classes: number,
  type: ImbalanceType,
  ratio: number,
): number[] {
  if (!Number.isInteger(maxPerClass) || maxPerClass < 1) {
    throw new RangeError(`maxPerClass: expected a positive integer, got ${String(maxPerClass)}`);
  }
  if (!Number.isInteger(classes) || classes < 1) {
    throw new RangeError(`classes: expected a positive integer, got ${String(classes)}`);
  }
  if (!(Number.isFinite(ratio) && ratio >= 1))
    throw new RangeError(`ratio: expected a finite number >= 1, got ${String(ratio)}`);
  const counts: number[] = [];
  for (let c = 0; c < classes; c++) {
    if (type === 'exp') {
      // Written as the reference code writes it (img_max * imb_factor ** (c / (C - 1))) so floors agree.
      counts.push(classes === 1 ? maxPerClass : Math.floor(maxPerClass * (1 / ratio) ** (c / (classes - 1))));
    } else if (type === 'step') {
      counts.push(c < Math.floor(classes / 2) ? maxPerClass : Math.floor(maxPerClass / ratio));
    } else {
      throw new RangeError(`type: expected 'exp' or 'step', got '${String(type)}'`);
    }
  }
  const empty = counts.indexOf(0);
  if (empty >= 0) {
    throw new RangeError(
      `ratio ${ratio} with n_max ${maxPerClass} leaves class ${empty} with no images; lower the ratio or raise n_max`,
    );
  }
  return counts;
}

export function makeImbalanced(data: Dataset, options: ImbalanceOptions): ImbalancedDataset {
  checkDataset(data, 'data');
  const byClass = indicesByClass(data.labels, data.classes);
  const smallest = Math.min(...byClass.map((list) => list.length));
  const absent = byClass.findIndex((list) => list.length === 0);
  if (absent >= 0) {
    // Loaders refuse such a set already (validateTrainTest); this is for data built in code.
    throw new RangeError(
      `data: the training labels have no images of class ${absent} ` +
        `(labels must be 0..${data.classes - 1} with every class present)`,
    );
  }
  const maxPerClass = options.maxPerClass ?? smallest;
  const counts =
    options.type === 'none'
      ? byClass.map((list) => Math.min(list.length, options.maxPerClass ?? list.length))
      : imbalancedCounts(maxPerClass, data.classes, options.type, options.ratio);
  counts.forEach((n, c) => {
    if (n > byClass[c].length) {
      throw new RangeError(
        `maxPerClass: class ${c} should keep ${n} images but the data set has only ${byClass[c].length}`,
      );
    }
  });

  const rng = new Xoshiro128(options.seed);
  const total = counts.reduce((a, b) => a + b, 0);
  const indices = new Int32Array(total);
  let written = 0;
  for (let c = 0; c < data.classes; c++) {
    const shuffled = shuffleInPlace(byClass[c], rng);
    indices.set(shuffled.subarray(0, counts[c]), written);
    written += counts[c];
  }
  indices.sort();
  return { ...subsetDataset(data, indices), indices, counts };
}
