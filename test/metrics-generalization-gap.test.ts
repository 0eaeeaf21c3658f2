// Per-class generalization gap of embeddings on a case small enough to compute by hand.
import test from 'ava';
import { gapAgainstRealSpread, generalizationGap } from '../lib/metrics/generalization-gap.js';

// dim 2, 3 classes; rows of different classes interleaved on purpose.
//   class 0 train: (0,0) (3,0) (3,4)   test: (0,1) (6,4)
//   class 1 train: (10,10)             test: (10,11)
//   class 2 train: (1,1) (1,2)         test: none
const train = {
  embeddings: Float32Array.from([0, 0, 10, 10, 3, 0, 1, 1, 3, 4, 1, 2]),
  labels: Int32Array.from([0, 1, 0, 2, 0, 2]),
};
const testSet = {
  embeddings: Float32Array.from([10, 11, 0, 1, 6, 4]),
  labels: Int32Array.from([1, 0, 0]),
};

const near = (actual: number, expected: number) => Math.abs(actual - expected) < 1e-12;

test('distance ratio and top-K feature gap equal the hand computation', (t) => {
  const gap = generalizationGap(train, testSet, { dim: 2, classes: 3, topK: 1 });
  const [c0, c1, c2] = gap.perClass;
  // Class 0. Leave-one-out nearest train distances: (0,0)->(3,0) 3, (3,0)->(0,0) 3, (3,4)->(3,0) 4; mean 10/3.
  // Test: (0,1)->(0,0) 1, (6,4)->(3,4) 3; mean 2. Ratio 2 / (10/3) = 0.6.
  t.true(near(c0.trainNearest, 10 / 3));
  t.true(near(c0.testNearest, 2));
  t.true(near(c0.distanceRatio, 0.6));
  // Train mean (2, 4/3): feature 0 is the top-1; test mean (3, 2.5): |2 - 3| / 2 = 0.5.
  t.deepEqual(c0.topFeatures, [0]);
  t.true(near(c0.featureGap, 0.5));
  t.deepEqual([c0.trainCount, c0.testCount], [3, 2]);
  // Class 1: one training point, so no leave-one-out distance; the tie in |mean| goes to feature 0.
  t.true(Number.isNaN(c1.trainNearest));
  t.is(c1.testNearest, 1);
  t.true(Number.isNaN(c1.distanceRatio));
  t.deepEqual(c1.topFeatures, [0]);
  t.is(c1.featureGap, 0);
  // Class 2: no test points.
  t.true(near(c2.trainNearest, 1));
  t.true(Number.isNaN(c2.testNearest));
  t.true(Number.isNaN(c2.featureGap));
  // Means over the classes where a measure is defined.
  t.true(near(gap.meanDistanceRatio, 0.6));
  t.true(near(gap.meanFeatureGap, 0.25));
});

test('K is clamped to the embedding width and defaults to 10', (t) => {
  const gap = generalizationGap(train, testSet, { dim: 2, classes: 3 });
  // Class 0 with both features: (|2 - 3| + |4/3 - 5/2|) / (2 + 4/3) = (13/6) / (10/3) = 0.65.
  t.deepEqual(gap.perClass[0].topFeatures, [0, 1]);
  t.true(near(gap.perClass[0].featureGap, 0.65));
  t.true(near(gap.perClass[1].featureGap, 1 / 20));
});

test('inconsistent inputs name the argument', (t) => {
  t.throws(
    () => generalizationGap({ ...train, embeddings: new Float32Array(5) }, testSet, { dim: 2, classes: 3 }),
    {
      message: 'train.embeddings: expected 6 x 2 = 12 values, got 5',
    },
  );
  t.throws(
    () =>
      generalizationGap(train, { ...testSet, labels: Int32Array.from([1, 0, 3]) }, { dim: 2, classes: 3 }),
    {
      message: 'test.labels[2] = 3 is outside [0, 3)',
    },
  );
  t.throws(() => generalizationGap(train, testSet, { dim: 2, classes: 3, topK: 0 }), {
    message: /topK: expected a positive integer/,
  });
});

test('the "after" gap divides by the real rows\' spread, not the spread of real + synthetic rows', (t) => {
  const before = generalizationGap(train, testSet, { dim: 2, classes: 3, topK: 1 });
  // Class 0 gains the synthetic row (0,0.5) halfway between (0,0) and the test point (0,1): the test point now
  // sits 0.5 away, (6,4) still 3; the raw leave-one-out spread of the four rows drops to (0.5+3+4+0.5)/4 = 2.
  const resampled = {
    embeddings: Float32Array.from([...train.embeddings, 0, 0.5]),
    labels: Int32Array.from([...train.labels, 0]),
  };
  const raw = generalizationGap(resampled, testSet, { dim: 2, classes: 3, topK: 1 });
  t.true(near(raw.perClass[0].testNearest, 1.75));
  t.true(near(raw.perClass[0].distanceRatio, 1.75 / 2));
  const after = gapAgainstRealSpread(before, raw);
  t.true(near(after.perClass[0].trainNearest, 10 / 3));
  t.true(
    near(after.perClass[0].distanceRatio, 1.75 / (10 / 3)),
    'smaller than before (0.6): test points got closer',
  );
  t.true(after.perClass[0].distanceRatio < before.perClass[0].distanceRatio);
  t.is(after.perClass[0].featureGap, raw.perClass[0].featureGap);
  t.true(near(after.meanDistanceRatio, 1.75 / (10 / 3)));
  // Class 1 (one training row: no spread) and class 2 (no test rows) have no ratio, also after a JSON round
  // trip (stored results hold NaN as null): NaN, never a false 0.
  const stored = <T>(v: T): T => JSON.parse(JSON.stringify(v));
  for (const rebased of [after, gapAgainstRealSpread(stored(before), stored(raw))]) {
    t.true(Number.isNaN(rebased.perClass[1].distanceRatio));
    t.true(Number.isNaN(rebased.perClass[2].distanceRatio));
    t.true(near(rebased.meanDistanceRatio, 1.75 / (10 / 3)));
  }
  t.throws(() => gapAgainstRealSpread(before, { ...raw, perClass: raw.perClass.slice(0, 2) }), {
    message: /before has 3 classes, after has 2/,
  });
});
