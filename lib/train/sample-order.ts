// The order in which an epoch visits the training samples.
//
// Drawn from a generator seeded by (seed, epoch) alone, so epoch e has the same order whether the run started
// at epoch 0 or resumed at e: a resumed run equals an uninterrupted one.
import { LIMITS } from '../defaults.js';
import { Xoshiro128 } from '../random.js';
import type { TrainRule } from './class-weights.js';

const MAX_EPOCH = 2 ** 20;

function epochGenerator(seed: number, epoch: number): Xoshiro128 {
  if (!Number.isInteger(seed) || seed < 0 || seed > LIMITS.seed)
    throw new RangeError(`seed must be an integer in [0, ${LIMITS.seed}], got ${seed}`);
  if (!Number.isInteger(epoch) || epoch < 0 || epoch >= MAX_EPOCH)
    throw new RangeError(`epoch must be an integer in [0, 2^20), got ${epoch}`);
  return new Xoshiro128(seed * MAX_EPOCH + epoch); // < 2^52: exact
}

/** A uniformly random permutation of 0..n-1 (Fisher-Yates). */
export function shuffledOrder(n: number, seed: number, epoch: number): Int32Array {
  const rng = epochGenerator(seed, epoch);
  const order = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.below(i + 1);
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}

/**
 * Class-balanced sampling with replacement (the `resample` train rule): n draws where each class is equally
 * likely and, within a class, each sample is (sample weight 1 / n_c, as torch's WeightedRandomSampler).
 */
export function classBalancedOrder(
  labels: Int32Array,
  classes: number,
  seed: number,
  epoch: number,
): Int32Array {
  const rng = epochGenerator(seed, epoch);
  const members: number[][] = Array.from({ length: classes }, () => []);
  for (let i = 0; i < labels.length; i++) members[labels[i]].push(i);
  const present = members.filter((m) => m.length > 0);
  const order = new Int32Array(labels.length);
  for (let i = 0; i < order.length; i++) {
    const cls = present[rng.below(present.length)];
    order[i] = cls[rng.below(cls.length)];
  }
  return order;
}

export function epochOrder(
  rule: TrainRule,
  labels: Int32Array,
  classes: number,
  seed: number,
  epoch: number,
): Int32Array {
  return rule === 'resample'
    ? classBalancedOrder(labels, classes, seed, epoch)
    : shuffledOrder(labels.length, seed, epoch);
}
