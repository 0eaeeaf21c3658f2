// The test set of a single DIR/<class>/ tree: a seeded, stratified split. Each class gives round(n_c x fraction)
// of its images to the test set, at least one and never all of them, so every class is in both parts (a test
// set without some class cannot score it). The shuffle is the project's seeded Fisher-Yates over xoshiro128**,
// so the same files and seed give the same split on every machine.
import { join } from 'node:path';
import { DataFileError } from './errors.js';
import { indicesByClass, shuffleInPlace, Xoshiro128 } from './seeded-shuffle.js';

export interface TestSplit {
  /** Row indices, ascending. */
  train: Int32Array;
  test: Int32Array;
}

export function splitTestSet(
  labels: Int32Array,
  classNames: string[],
  options: { fraction: number; seed: number; dir: string },
): TestSplit {
  const rng = new Xoshiro128(options.seed);
  const train: number[] = [];
  const test: number[] = [];
  indicesByClass(labels, classNames.length).forEach((members, c) => {
    if (members.length < 2) {
      throw new DataFileError(
        join(options.dir, classNames[c]),
        `class '${classNames[c]}' has ${members.length} usable image; the test split needs at least 2 per class`,
      );
    }
    const take = Math.min(Math.max(Math.round(members.length * options.fraction), 1), members.length - 1);
    const shuffled = shuffleInPlace(members, rng);
    for (let i = 0; i < shuffled.length; i++) (i < take ? test : train).push(shuffled[i]);
  });
  return { train: Int32Array.from(train).sort(), test: Int32Array.from(test).sort() };
}
