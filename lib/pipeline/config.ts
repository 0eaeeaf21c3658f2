// Configuration of a three-phase run, its presets, and its validation.
import type { DatasetName } from '../data/dataset.js';
import type { ImbalanceType } from '../data/imbalance.js';
import type { BackendName } from '../model/resnet.js';
import type { TrainRule } from '../train/class-weights.js';
import type { LossName } from '../train/loss-config.js';
import { isSamplerName, type SamplerName } from './samplers.js';

export interface RunConfig {
  dataset: DatasetName;
  dataDir?: string;
  imbalance: { type: ImbalanceType; ratio: number; seed: number };
  /** Fraction of each class held out of training for validation (0: none). Never the test set. */
  validationFraction: number;
  depth: number;
  backend: BackendName;
  threads: number;
  seed: number;
  phase1: {
    epochs: number;
    batch: number;
    lr: number;
    warmupEpochs: number;
    loss: LossName;
    trainRule: TrainRule;
    focalGamma: number;
  };
  /** The main phase-2 method; `compareWith` are fitted on the same backbone and reported beside it. */
  sampler: SamplerName;
  compareWith: SamplerName[];
  kNeighbors?: number;
  phase3: {
    epochs: number;
    batch: number;
    lr: number;
    warmupEpochs: number;
    loss: LossName;
    trainRule: TrainRule;
  };
  outDir: string;
}

export type PresetName = 'quick' | 'paper';

const common = {
  dataset: 'fashion-mnist' as DatasetName,
  imbalance: { type: 'exp' as ImbalanceType, ratio: 100, seed: 0 },
  validationFraction: 0,
  depth: 32,
  backend: 'auto' as BackendName,
  threads: 0,
  seed: 0,
  sampler: 'eos' as SamplerName,
  phase3: {
    epochs: 10,
    batch: 128,
    lr: 0.1,
    warmupEpochs: 5,
    loss: 'ce' as LossName,
    trainRule: 'none' as TrainRule,
  },
  outDir: 'runs/latest',
};

export const PRESETS: Record<PresetName, RunConfig> = {
  // Fits 15 minutes on 2 CPU cores with the oneDNN backend (about 25 s per epoch of Fashion-MNIST-LT):
  // 20 phase-1 epochs with the paper's schedule shape (warm-up, x0.01 at 80%, x0.0001 at 90%), the rest as the paper.
  quick: {
    ...common,
    phase1: {
      epochs: 20,
      batch: 128,
      lr: 0.1,
      warmupEpochs: 2,
      loss: 'ce',
      trainRule: 'none',
      focalGamma: 1,
    },
    compareWith: ['none', 'ros', 'smote'],
  },
  // The paper's schedule: 200 epochs, 5-epoch warm-up, x0.01 at 160 and x0.0001 at 180.
  paper: {
    ...common,
    phase1: {
      epochs: 200,
      batch: 128,
      lr: 0.1,
      warmupEpochs: 5,
      loss: 'ce',
      trainRule: 'none',
      focalGamma: 1,
    },
    compareWith: ['none', 'ros', 'smote', 'bsmote1', 'bsmote2', 'adasyn'],
  },
};

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
  for (const name of [c.sampler, ...c.compareWith]) {
    if (!isSamplerName(name)) throw new RangeError(`unknown sampler ${name}`);
  }
  if ((c.depth - 2) % 6 !== 0 || c.depth < 8)
    throw new RangeError(`depth must be 6n + 2 (8, 20, 32, ...), got ${c.depth}`);
}
