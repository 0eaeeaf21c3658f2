// Configuration of a three-phase run and its validation; its defaults and presets are in lib/defaults.ts.
import { FOLDER, LIMITS, maxThreads } from '../defaults.js';
import { validateKnnChoice } from '../resample/knn-method.js';
import type { RunConfig } from './run-config.js';
import { isSamplerName, samplerNameError } from './sampler-names.js';

export { PRESETS, type PresetName } from '../defaults.js';
export type { RunConfig } from './run-config.js';

/** Throws a RangeError naming the field unless every value of `c` is in the range a sensible run uses (LIMITS). */
export function validateConfig(c: RunConfig): void {
  const integer = (name: string, v: number, min: number, max: number) => {
    if (!Number.isSafeInteger(v) || v < min || v > max)
      throw new RangeError(`${name} must be an integer in [${min}, ${max}], got ${v}`);
  };
  integer('phase1.epochs', c.phase1.epochs, 1, LIMITS.epochs);
  integer('phase1.batch', c.phase1.batch, 1, LIMITS.batch);
  integer('phase3.epochs', c.phase3.epochs, 1, LIMITS.epochs);
  integer('phase3.batch', c.phase3.batch, 1, LIMITS.headBatch);
  if (c.phase1.batch < 2) throw new RangeError('phase1.batch must be >= 2 (batch norm needs two samples)');
  integer('phase1.warmupEpochs', c.phase1.warmupEpochs, 0, c.phase1.epochs);
  integer('phase3.warmupEpochs', c.phase3.warmupEpochs, 0, LIMITS.epochs);
  integer('threads', c.threads, 0, maxThreads());
  integer('seed', c.seed, 0, LIMITS.seed);
  integer('imbalance.seed', c.imbalance.seed, 0, LIMITS.seed);
  if (c.kNeighbors !== undefined) integer('kNeighbors', c.kNeighbors, 1, LIMITS.integer);
  if (c.knn !== undefined) validateKnnChoice(c.knn);
  for (const [name, lr] of [
    ['phase1.lr', c.phase1.lr],
    ['phase3.lr', c.phase3.lr],
  ] as const) {
    if (!(Number.isFinite(lr) && lr > 0 && lr <= LIMITS.learningRate))
      throw new RangeError(`${name} must be a number in (0, ${LIMITS.learningRate}], got ${lr}`);
  }
  if (c.folder !== undefined) {
    if (c.dataset !== 'folder') {
      throw new RangeError(
        `folder options (image size, channels, test fraction, skip bad images) apply to dataset 'folder', not '${c.dataset}'`,
      );
    }
    const f = c.folder;
    if (f.imageSize !== undefined) integer('folder.imageSize', f.imageSize, 8, FOLDER.maxImageSize);
    if (f.channels !== undefined && f.channels !== 1 && f.channels !== 3)
      throw new RangeError(`folder.channels must be 1 or 3, got ${String(f.channels)}`);
    if (f.testFraction !== undefined && !(f.testFraction > 0 && f.testFraction < 1))
      throw new RangeError(`folder.testFraction must be a number in (0, 1), got ${f.testFraction}`);
  }
  if (!(Number.isFinite(c.phase1.focalGamma) && c.phase1.focalGamma >= 0))
    throw new RangeError(`phase1.focalGamma must be a number >= 0, got ${c.phase1.focalGamma}`);
  if (!(Number.isFinite(c.imbalance.ratio) && c.imbalance.ratio >= 1))
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
  if (!Number.isInteger(c.depth) || (c.depth - 2) % 6 !== 0 || c.depth < 8 || c.depth > LIMITS.depth)
    throw new RangeError(`depth must be 6n + 2 (8, 20, 32, ..., ${LIMITS.depth}), got ${c.depth}`);
}
