// Imbalanced (long-tailed) splits and the stratified validation split: exact counts and seeded choices.
import test from 'ava';
import { classCounts, type Dataset } from '../lib/data/dataset.js';
import { imbalancedCounts, makeImbalanced } from '../lib/data/imbalance.js';
import { splitValidation, stratifiedSplitIndices } from '../lib/data/validation-split.js';

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

test('exp counts match the reference formula and the literature (CIFAR-10-LT 12406, CIFAR-100-LT 10847)', (t) => {
  const cifar10 = imbalancedCounts(5000, 10, 'exp', 100);
  t.deepEqual(cifar10, [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]);
  t.is(sum(cifar10), 12406);
  t.is(sum(imbalancedCounts(500, 100, 'exp', 100)), 10847);
  // Fashion-MNIST, values from the reference formula in Python: int(6000 * 0.01 ** (c / 9.0)).
  t.deepEqual(imbalancedCounts(6000, 10, 'exp', 100), [6000, 3596, 2156, 1292, 774, 464, 278, 166, 100, 60]);
  t.deepEqual(
    imbalancedCounts(6000, 10, 'exp', 10),
    [6000, 4645, 3596, 2784, 2156, 1669, 1292, 1000, 774, 600],
  );
  t.deepEqual(imbalancedCounts(7, 1, 'exp', 100), [7]);
  t.deepEqual(imbalancedCounts(30, 4, 'exp', 1), [30, 30, 30, 30]);
});

test('step counts: the first floor(C/2) classes keep n_max, the rest floor(n_max / ratio)', (t) => {
  t.deepEqual(imbalancedCounts(5000, 10, 'step', 100), [5000, 5000, 5000, 5000, 5000, 50, 50, 50, 50, 50]);
  t.is(sum(imbalancedCounts(5000, 10, 'step', 100)), 25250);
  t.deepEqual(imbalancedCounts(100, 5, 'step', 3), [100, 100, 33, 33, 33]);
});

test('bad ratios, types and counts are refused with the argument named', (t) => {
  t.throws(() => imbalancedCounts(100, 10, 'exp', 0.5), {
    message: 'ratio: expected a finite number >= 1, got 0.5',
  });
  t.throws(() => imbalancedCounts(100, 10, 'exp', Number.NaN), {
    message: /ratio: expected a finite number >= 1/,
  });
  t.throws(() => imbalancedCounts(100, 10, 'linear' as never, 10), {
    message: "type: expected 'exp' or 'step', got 'linear'",
  });
  t.throws(() => imbalancedCounts(50, 10, 'step', 100), {
    message: 'ratio 100 with n_max 50 leaves class 5 with no images; lower the ratio or raise n_max',
  });
  t.throws(() => imbalancedCounts(0, 10, 'exp', 10), { message: /maxPerClass: expected a positive integer/ });
});

/** A balanced set: `perClass` images of each of `classes` classes, interleaved; pixel value = row index mod 256. */
function balanced(classes: number, perClass: number): Dataset {
  const n = classes * perClass;
  return {
    images: Uint8Array.from({ length: n * 4 }, (_, i) => Math.floor(i / 4) % 256),
    labels: Int32Array.from({ length: n }, (_, i) => i % classes),
    shape: [n, 1, 2, 2],
    classes,
  };
}

test('makeImbalanced keeps exactly the target count per class, rows in source order, pixels intact', (t) => {
  const data = balanced(10, 200);
  const lt = makeImbalanced(data, { type: 'exp', ratio: 20, seed: 0 });
  const expected = imbalancedCounts(200, 10, 'exp', 20);
  t.deepEqual(lt.counts, expected);
  t.deepEqual(classCounts(lt.labels, 10), expected);
  t.deepEqual(lt.shape, [sum(expected), 1, 2, 2]);
  t.is(lt.classes, 10);
  for (let i = 0; i < lt.indices.length; i++) {
    if (i > 0) t.true(lt.indices[i] > lt.indices[i - 1]);
    t.is(lt.labels[i], data.labels[lt.indices[i]]);
    t.is(lt.images[i * 4 + 3], lt.indices[i] % 256);
  }
  const step = makeImbalanced(data, { type: 'step', ratio: 10, seed: 0, maxPerClass: 150 });
  t.deepEqual(step.counts, [150, 150, 150, 150, 150, 15, 15, 15, 15, 15]);
});

test('the same seed keeps the same images, another seed others; larger ratios keep subsets', (t) => {
  const data = balanced(5, 100);
  const a = makeImbalanced(data, { type: 'exp', ratio: 10, seed: 7 });
  const b = makeImbalanced(data, { type: 'exp', ratio: 10, seed: 7 });
  const c = makeImbalanced(data, { type: 'exp', ratio: 10, seed: 8 });
  t.deepEqual(a.indices, b.indices);
  t.notDeepEqual(a.indices, c.indices);
  const steeper = makeImbalanced(data, { type: 'exp', ratio: 50, seed: 7 });
  const kept = new Set(a.indices);
  t.true(steeper.indices.every((i) => kept.has(i)));
  // Pinned: the split must not change between versions or machines. These are the 10 images the tail class
  // keeps; an independent Python implementation (SplitMix64 -> xoshiro128**, rejection sampling, Fisher-Yates
  // per class from the last position) gives the same list.
  t.deepEqual(
    Array.from(a.indices).filter((i) => data.labels[i] === 4),
    [129, 164, 169, 239, 309, 324, 349, 439, 449, 499],
  );
});

test('makeImbalanced refuses data it cannot satisfy', (t) => {
  const data = balanced(4, 10);
  t.throws(() => makeImbalanced(data, { type: 'exp', ratio: 10, seed: 0, maxPerClass: 11 }), {
    message: 'maxPerClass: class 0 should keep 11 images but the data set has only 10',
  });
  const missing = { ...data, labels: data.labels.map((l) => (l === 2 ? 1 : l)) };
  t.throws(() => makeImbalanced(missing, { type: 'exp', ratio: 2, seed: 0 }), {
    message:
      'data: the training labels have no images of class 2 (labels must be 0..3 with every class present)',
  });
  t.throws(() => makeImbalanced(data, { type: 'exp', ratio: 2, seed: -1 }), {
    message: /seed: expected a non-negative safe integer/,
  });
});

test('the stratified validation split takes round(n_c * fraction) per class, disjoint and seeded', (t) => {
  const labels = Int32Array.from([...Array(50).fill(0), ...Array(21).fill(1), 2, ...Array(4).fill(3)]);
  const split = stratifiedSplitIndices(labels, 4, { fraction: 0.2, seed: 3 });
  t.deepEqual(
    classCounts(
      Int32Array.from(split.validation, (i) => labels[i]),
      4,
    ),
    [10, 4, 0, 1],
  );
  t.deepEqual(
    classCounts(
      Int32Array.from(split.train, (i) => labels[i]),
      4,
    ),
    [40, 17, 1, 3],
  );
  const all = [...split.train, ...split.validation].sort((a, b) => a - b);
  t.deepEqual(all, [...Array(labels.length).keys()]);
  t.deepEqual(stratifiedSplitIndices(labels, 4, { fraction: 0.2, seed: 3 }), split);
  t.notDeepEqual(stratifiedSplitIndices(labels, 4, { fraction: 0.2, seed: 4 }).validation, split.validation);
  t.throws(() => stratifiedSplitIndices(labels, 4, { fraction: 1, seed: 0 }), {
    message: 'fraction: expected a number in [0, 1), got 1',
  });

  const data = balanced(3, 10);
  const parts = splitValidation(data, { fraction: 0.3, seed: 1 });
  t.deepEqual(parts.validation.shape, [9, 1, 2, 2]);
  t.deepEqual(parts.train.shape, [21, 1, 2, 2]);
  t.is(parts.validation.images[4 * 2], parts.indices.validation[2] % 256);
});

test("'none' keeps the data's own class counts (capped by n_max when one is given), as a user's folder is", (t) => {
  const labels = Int32Array.from([0, 0, 0, 0, 0, 1, 1, 2, 2, 2]);
  const data: Dataset = { images: new Uint8Array(10 * 4), labels, shape: [10, 1, 2, 2], classes: 3 };
  const kept = makeImbalanced(data, { type: 'none', ratio: 100, seed: 3 });
  t.deepEqual(kept.counts, [5, 2, 3]);
  t.deepEqual(Array.from(kept.indices), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const capped = makeImbalanced(data, { type: 'none', ratio: 1, seed: 3, maxPerClass: 2 });
  t.deepEqual(capped.counts, [2, 2, 2]);
  t.deepEqual(classCounts(capped.labels, 3), [2, 2, 2]);
});
