// Configuration of a three-phase run and its validation; its defaults and presets are in lib/defaults.ts.
import type { RunConfig } from './run-config.js';
import { isSamplerName, samplerNameError } from './sampler-names.js';

export { PRESETS, type PresetName } from '../defaults.js';
export type { RunConfig } from './run-config.js';

export function validateConfig(c: RunConfig): void {
  const positiveInt = (name: string, v: number) => {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer, got ${v}`);
  };
  positiveInt('phase1.epochs', c.phase1.epochs);
  positiveInt('phase1.batch', c.phase1.batch);
  positiveInt('phase3.epochs', c.phase3.epochs);
  positiveInt('phase3.batch', c.phase3.batch);
  if (c.phase1.batch < 2) throw new RangeError('phase1.batch must be >= 2 (batch norm needs two samples)');
  if (!(c.imbalance.ratio >= 1))
    throw new RangeError(`imbalance ratio must be >= 1, got ${c.imbalance.ratio}`);
  if (!(c.validationFraction >= 0 && c.validationFraction < 1)) {
    throw new RangeError(`validation fraction must be in [0, 1), got ${c.validationFraction}`);
  }
  for (const [phase, p] of [
    ['phase1', c.phase1],
    ['phase3', c.phase3],
  ] as const) {
    if (!(Number.isFinite(p.momentum) && p.momentum >= 0 && p.momentum < 1))
      throw new RangeError(`${phase}.momentum must be a number in [0, 1), got ${p.momentum}`);
    if (!(Number.isFinite(p.weightDecay) && p.weightDecay >= 0))
      throw new RangeError(`${phase}.weightDecay must be a number >= 0, got ${p.weightDecay}`);
  }
  for (const name of [c.sampler, ...c.compareWith]) {
    if (!isSamplerName(name)) throw new RangeError(samplerNameError('sampler', name));
  }
  if ((c.depth - 2) % 6 !== 0 || c.depth < 8)
    throw new RangeError(`depth must be 6n + 2 (8, 20, 32, ...), got ${c.depth}`);
}
