// Seeded Fisher-Yates shuffle shared by the split helpers. The generator is xoshiro128** (lib/random.ts, shared
// with the samplers and the epoch orders): exact 32-bit integer arithmetic, so the same seed gives the same
// permutation on every machine and Node version.
import { Xoshiro128 } from '../random.js';

export { Xoshiro128 };

/** Shuffles `values` in place (Durstenfeld's Fisher-Yates, last position first) and returns it. */
export function shuffleInPlace(values: Int32Array, rng: Xoshiro128): Int32Array {
  for (let i = values.length - 1; i > 0; i--) {
    const j = rng.below(i + 1);
    const t = values[i];
    values[i] = values[j];
    values[j] = t;
  }
  return values;
}

/** Row indices of each class, ascending (length `classes`). */
export function indicesByClass(labels: Int32Array, classes: number): Int32Array[] {
  const counts = new Int32Array(classes);
  for (let i = 0; i < labels.length; i++) counts[labels[i]]++;
  const lists = Array.from(counts, (n) => new Int32Array(n));
  const filled = new Int32Array(classes);
  for (let i = 0; i < labels.length; i++) lists[labels[i]][filled[labels[i]]++] = i;
  return lists;
}
