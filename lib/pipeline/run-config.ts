// The configuration of a three-phase run (types only; its validation is lib/pipeline/config.ts, its defaults
// and presets lib/defaults.ts).
import type { DatasetName } from '../data/dataset.js';
import type { ImbalanceType } from '../data/imbalance.js';
import type { BackendChoice } from '../native.js';
import type { KnnChoice } from '../resample/knn-method.js';
import type { TrainRule } from '../train/class-weights.js';
import type { LossName } from '../train/loss-name.js';
import type { SamplerName } from './sampler-names.js';

export interface RunConfig<M extends string = SamplerName> {
  dataset: DatasetName;
  dataDir?: string;
  /**
   * Image folders only (dataset 'folder'; lib/data/folder-types.ts): the decoded size (shorter side resized to
   * imageSize, centre-cropped), 1 or 3 channels, a single tree's test share (default FOLDER.testFraction; its
   * seed is imbalance.seed), and whether bad image files are skipped (listed in the results) or refused.
   */
  folder?: { imageSize?: number; channels?: 1 | 3; testFraction?: number; skipBadImages?: boolean };
  imbalance: { type: ImbalanceType; ratio: number; seed: number };
  /** Fraction of each class held out of training for validation (0: none). Never the test set. */
  validationFraction: number;
  depth: number;
  backend: BackendChoice;
  threads: number;
  seed: number;
  phase1: {
    epochs: number;
    batch: number;
    lr: number;
    /** SGD momentum (default: lib/defaults.ts SGD). */
    momentum: number;
    /** SGD weight decay, L2 on every parameter (default: lib/defaults.ts SGD). */
    weightDecay: number;
    warmupEpochs: number;
    loss: LossName;
    trainRule: TrainRule;
    focalGamma: number;
  };
  /**
   * The main phase-2 method; `compareWith` are fitted on the same backbone and reported beside it. A run names
   * samplers (M = SamplerName); a comparison unit names the harness's methods (lib/harness/methods.ts), so the
   * steps that do not choose the method take RunConfig<string>.
   */
  sampler: M;
  compareWith: M[];
  kNeighbors?: number;
  /** The samplers' nearest-neighbour search (`--knn`; default exact): lib/resample/knn-method.ts. */
  knn?: KnnChoice;
  phase3: {
    epochs: number;
    batch: number;
    lr: number;
    momentum: number;
    weightDecay: number;
    warmupEpochs: number;
    loss: LossName;
    trainRule: TrainRule;
  };
  outDir: string;
}
