// The native loss options of each loss choice of phases 1 and 3.
import { LOSS } from '../defaults.js';
import type { LossOptions } from '../native.js';
import type { LossName } from './loss-name.js';

export type { LossName };

export interface LossSettings {
  loss: LossName;
  /** focal: gamma (default: lib/defaults.ts LOSS). */
  focalGamma?: number;
}

/** Native loss options; LDAM's margins need the per-class training counts. */
export function lossOptions(settings: LossSettings, classCounts: ArrayLike<number>): LossOptions {
  switch (settings.loss) {
    case 'ce':
      return { kind: 'ce' };
    case 'focal':
      return { kind: 'focal', gamma: settings.focalGamma ?? LOSS.focalGamma };
    case 'ldam':
      return { kind: 'ldam', classCounts: Array.from(classCounts), ...LOSS.ldam };
    case 'asl':
      return { kind: 'asl', ...LOSS.asl };
    default:
      throw new RangeError(`loss must be one of ce, focal, ldam, asl; got ${String(settings.loss)}`);
  }
}
