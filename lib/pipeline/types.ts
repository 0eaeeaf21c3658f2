// The data the pipeline's steps pass to each other and return: one module of types, imported by the steps
// and by the two orchestrators (runThreePhase, the comparison harness), so that no step imports an
// orchestrator for a type.
import type { ChannelStats } from '../data/channel-stats.js';
import type { BadImage } from '../data/folder-types.js';
import type { Dataset } from '../data/types.js';
import type { ClassificationMetrics } from '../metrics/classification.js';
import type { GeneralizationGap } from '../metrics/generalization-gap.js';
import type { KnnSearchRecord } from '../resample/knn-method.js';
import type { ResampleResult } from '../resample/types.js';
import type { FineTunedHead } from '../train/fine-tune-head.js';
import type { EpochRecord, Phase1Result } from '../train/phase1.js';
import type { RunConfig } from './config.js';
import type { MethodFailure } from './method-checks.js';
import type { SamplerName } from './samplers.js';

/** What a run reports while it works: phase changes, phase-1 progress and each method's score. */
export type PipelineEvent =
  | { kind: 'phase'; phase: 'data' | 'phase1' | 'embed' | 'phase2+3' | 'save'; message: string }
  | {
      kind: 'batch';
      epoch: number;
      epochs: number;
      batches: number;
      batchesTotal: number;
      loss: number;
      accuracy: number;
    }
  | { kind: 'epoch'; epochs: number; record: EpochRecord }
  | { kind: 'method'; name: string; balancedAccuracy: number }
  /** Image folders: the header and decoding passes. */
  | { kind: 'data'; stage: 'inspect' | 'decode'; done: number; total: number }
  /** A comparison method that cannot run on this data (known before phase 1) or failed: the run goes on. */
  | { kind: 'method-failed'; name: string; message: string };

/** Caps on the data of a run, which keep small comparisons and tests short. */
export interface DataLimits {
  /** n_max of the imbalanced split (images of the largest class); default: all the data set has. */
  maxTrainPerClass?: number;
  /** Test images kept per class (the first ones of each class in file order); default: all. */
  maxTestPerClass?: number;
}

/**
 * The data of a run: the imbalanced training subset (minus an optional validation split), the untouched test
 * set, and the normalisation statistics of the training images.
 */
export interface RunData {
  train: Dataset;
  validation: Dataset | null;
  test: Dataset;
  classes: number;
  counts: number[];
  normalization: ChannelStats;
  classNames?: string[];
  /** Image folders with skipBadImages: the files left out. */
  skipped?: BadImage[];
}

/** The labels of a run's splits: what phases 2 and 3 need of the data besides the embeddings. */
export interface RunLabels {
  train: { labels: Int32Array };
  validation: { labels: Int32Array } | null;
  test: { labels: Int32Array };
  classes: number;
}

export interface BackboneOptions {
  resume?: boolean;
  signal?: AbortSignal;
  emit: (e: PipelineEvent) => void;
}

/** A trained backbone: its phase-1 record and where its checkpoint and model were written. */
export interface TrainedBackbone {
  p1: Phase1Result;
  seconds: number;
  checkpoint: string;
  phase1Model: string;
}

/** A backbone's embeddings of each split (validation: null without a validation split). */
export interface RunEmbeddings {
  train: Float32Array;
  test: Float32Array;
  validation: Float32Array | null;
}

/** The embeddings plus the phase-1 network's own test logits, and the seconds the forward passes took. */
export interface EmbeddedBackbone {
  embeddings: RunEmbeddings;
  testLogits: Float32Array;
  seconds: number;
}

/** Phases 2 and 3 of one method: the resampled embeddings and the fresh head trained on them. */
export interface FittedMethod {
  resampled: ResampleResult;
  head: FineTunedHead;
  seconds: { resample: number; phase3: number };
}

export interface MethodResult {
  name: string;
  /** Rows added by phase 2. */
  synthetic: number;
  fallbacks: string[];
  /** The sampler's nearest-neighbour searches: which method ran (exact, ivf, hnsw), its parameters, times. */
  knn?: KnnSearchRecord[];
  seconds: { resample: number; phase3: number };
  test: ClassificationMetrics;
  validation?: ClassificationMetrics;
  /** Mean loss of the last phase-3 epoch. */
  finalLoss: number;
}

/** A fitted method and its scores. */
export interface ScoredMethod extends FittedMethod {
  result: MethodResult;
}

export interface RunResult {
  config: RunConfig;
  data: {
    train: number;
    test: number;
    validation: number;
    classCounts: number[];
    normalization: { mean: number[]; std: number[] };
    /** Image files left out by skipBadImages: how many, and the first 10. */
    skipped: { count: number; first: BadImage[] };
  };
  backend: string;
  phase1: {
    history: EpochRecord[];
    seconds: number;
    resumedFrom: { epoch: number; batch: number } | null;
    test: ClassificationMetrics;
  };
  methods: MethodResult[];
  /** Comparison methods that could not run on this data, with why (the main method never fails alone). */
  failedMethods: MethodFailure[];
  /** Generalization gap of the embeddings: real training set vs test, and with the main sampler's synthetic rows. */
  gap: { before: GeneralizationGap; after: GeneralizationGap; sampler: SamplerName };
  seconds: { total: number; embed: number };
  files: Record<string, string>;
}

export interface RunOptions {
  resume?: boolean;
  signal?: AbortSignal;
  onEvent?: (e: PipelineEvent) => void;
}

export interface Phase1OnlyResult {
  backend: string;
  history: Phase1Result['history'];
  seconds: number;
  files: { config: string; checkpoint: string; phase1Model: string };
}
