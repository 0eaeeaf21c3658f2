// Learning-rate schedules, per epoch (the reference code changes the rate at epoch boundaries only).
//
// The default is the reference code's: with epochs counted from 1, lr rises linearly over the first
// `warmupEpochs` (lr * e / warmup), then stays at lr, and is multiplied by each step's factor once the epoch
// is past that step's boundary (x0.01 after 160, x0.0001 after 180 for the 200-epoch schedule).

export interface LrSchedule {
  lr: number;
  warmupEpochs: number;
  /** [epoch boundary, factor]: after `boundary` epochs, the rate is lr * factor (the last passed step wins). */
  steps: [number, number][];
}

export const PAPER_PHASE1_SCHEDULE: LrSchedule = {
  lr: 0.1,
  warmupEpochs: 5,
  steps: [
    [160, 0.01],
    [180, 0.0001],
  ],
};

export function validateSchedule(s: LrSchedule, name = 'schedule'): void {
  if (!(Number.isFinite(s.lr) && s.lr > 0))
    throw new RangeError(`${name}.lr must be a finite number > 0, got ${s.lr}`);
  if (!Number.isInteger(s.warmupEpochs) || s.warmupEpochs < 0) {
    throw new RangeError(`${name}.warmupEpochs must be an integer >= 0, got ${s.warmupEpochs}`);
  }
  let last = 0;
  for (const [boundary, factor] of s.steps) {
    if (!Number.isInteger(boundary) || boundary <= last) {
      throw new RangeError(`${name}.steps boundaries must be increasing positive integers, got ${boundary}`);
    }
    if (!(Number.isFinite(factor) && factor > 0))
      throw new RangeError(`${name}.steps factors must be > 0, got ${factor}`);
    last = boundary;
  }
}

/** Learning rate of 0-based `epoch`. */
export function learningRateAt(s: LrSchedule, epoch: number): number {
  const e = epoch + 1;
  if (e <= s.warmupEpochs) return (s.lr * e) / s.warmupEpochs;
  let factor = 1;
  for (const [boundary, f] of s.steps) if (e > boundary) factor = f;
  return s.lr * factor;
}

/** The paper's step boundaries scaled to a shorter run (160/200 and 180/200 of `epochs`). */
export function scaledSchedule(
  epochs: number,
  lr = 0.1,
  warmupEpochs = Math.min(5, Math.max(0, epochs - 1)),
): LrSchedule {
  const b1 = Math.max(1, Math.round((epochs * 160) / 200));
  const b2 = Math.max(b1 + 1, Math.round((epochs * 180) / 200));
  return {
    lr,
    warmupEpochs,
    steps: [
      [b1, 0.01],
      [b2, 0.0001],
    ],
  };
}
