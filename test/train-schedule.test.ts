import test from 'ava';
import { classWeightsAt, effectiveNumberWeights } from '../lib/train/class-weights.js';
import {
  learningRateAt,
  PAPER_PHASE1_SCHEDULE,
  scaledSchedule,
  validateSchedule,
} from '../lib/train/lr-schedule.js';
import { classBalancedOrder, epochOrder, shuffledOrder } from '../lib/train/sample-order.js';

test("the paper's schedule: linear warm-up over 5 epochs, x0.01 after 160, x0.0001 after 180", (t) => {
  const lr = (e: number) => learningRateAt(PAPER_PHASE1_SCHEDULE, e);
  for (const e of [0, 1, 2, 3, 4]) t.true(Math.abs(lr(e) - 0.02 * (e + 1)) < 1e-12);
  t.is(lr(5), 0.1);
  t.is(lr(159), 0.1);
  t.is(lr(160), 0.1 * 0.01);
  t.is(lr(179), 0.1 * 0.01);
  t.is(lr(180), 0.1 * 0.0001);
  t.is(lr(199), 0.1 * 0.0001);
});

test('scaled schedules keep the boundaries at 80% and 90% of the run', (t) => {
  t.deepEqual(scaledSchedule(200).steps, [
    [160, 0.01],
    [180, 0.0001],
  ]);
  t.deepEqual(scaledSchedule(10).steps, [
    [8, 0.01],
    [9, 0.0001],
  ]);
  t.throws(() => validateSchedule({ lr: 0, warmupEpochs: 1, steps: [] }), {
    message: /schedule\.lr must be/,
  });
  t.throws(
    () =>
      validateSchedule({
        lr: 1,
        warmupEpochs: 1,
        steps: [
          [5, 0.1],
          [3, 0.1],
        ],
      }),
    { message: /increasing/ },
  );
});

test('effective-number class weights match the closed form and sum to C', (t) => {
  const counts = [5000, 500, 50];
  const w = effectiveNumberWeights(counts);
  const raw = counts.map((n) => (1 - 0.9999) / (1 - 0.9999 ** n));
  const sum = raw.reduce((a, b) => a + b, 0);
  for (const [c, r] of raw.entries()) t.true(Math.abs(w[c] - (r / sum) * 3) < 1e-6);
  t.true(Math.abs(w.reduce((a, b) => a + b, 0) - 3) < 1e-5);
  t.true(w[2] > w[1] && w[1] > w[0]);
  t.is(classWeightsAt('drw', 159, counts, 160), undefined);
  t.deepEqual(classWeightsAt('drw', 160, counts, 160), w);
  t.deepEqual(classWeightsAt('reweight', 0, counts, 160), w);
  t.is(classWeightsAt('none', 190, counts, 160), undefined);
});

test('epoch orders are permutations, depend only on (seed, epoch), and resample balances the classes', (t) => {
  const a = shuffledOrder(1000, 3, 7);
  t.deepEqual(
    [...a].sort((x, y) => x - y),
    Array.from({ length: 1000 }, (_, i) => i),
  );
  t.deepEqual(a, shuffledOrder(1000, 3, 7));
  t.notDeepEqual(a, shuffledOrder(1000, 3, 8));
  t.notDeepEqual(a, shuffledOrder(1000, 4, 7));
  const labels = Int32Array.from({ length: 11000 }, (_, i) => (i < 10000 ? 0 : 1));
  const order = classBalancedOrder(labels, 2, 1, 0);
  const minority = order.filter((i) => labels[i] === 1).length;
  t.true(minority > 5000 && minority < 6000, `minority drawn ${minority} of 11000 times`);
  t.deepEqual(epochOrder('resample', labels, 2, 1, 0), order);
  t.throws(() => shuffledOrder(10, -1, 0), { message: /seed must be an integer/ });
});
