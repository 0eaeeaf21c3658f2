// What one finished unit stores (one JSON file each), and the key that says which settings produced it.
import { SGD } from '../defaults.js';
import type { ClassificationMetrics } from '../metrics/classification.js';
import type { GeneralizationGap } from '../metrics/generalization-gap.js';
import type { RunConfig } from '../pipeline/config.js';
import type { EpochRecord } from '../train/phase1.js';
import type { MethodKey } from './methods.js';
import type { Phase1Variant } from './phase1-variants.js';
import type { PixelResampler } from './pixel-resample.js';
import type { DataLimits } from './plan.js';

/** Everything a phase-1 result depends on (threads and backend are recorded, not part of the key). */
export interface BackboneKey {
  dataset: RunConfig<string>['dataset'];
  dataDir: string | null;
  imbalance: RunConfig<string>['imbalance'];
  depth: number;
  seed: number;
  phase1: RunConfig<string>['phase1'];
  limits: { maxTrainPerClass: number | null; maxTestPerClass: number | null };
}

/** Everything a phase-2+3 result depends on. */
export interface SamplerKey extends BackboneKey {
  sampler: MethodKey;
  kNeighbors: number | null;
  phase3: RunConfig<string>['phase3'];
}

/**
 * Results and plans written before the SGD momentum and weight decay were settings say nothing of them: they
 * were trained with the defaults of that time, which lib/defaults.ts SGD still holds. This fills them in, so
 * those folders continue and re-report unchanged.
 */
export function withImplicitSgd<T>(recorded: T): T {
  if (typeof recorded !== 'object' || recorded === null) return recorded;
  const r = recorded as Record<string, unknown>;
  const fill = (phase: unknown) =>
    typeof phase === 'object' && phase !== null && !('momentum' in phase)
      ? { ...phase, momentum: SGD.momentum, weightDecay: SGD.weightDecay }
      : phase;
  return {
    ...r,
    ...('phase1' in r ? { phase1: fill(r.phase1) } : {}),
    ...('phase3' in r ? { phase3: fill(r.phase3) } : {}),
  } as T;
}

export function backboneKey(config: RunConfig<string>, limits: DataLimits): BackboneKey {
  return {
    dataset: config.dataset,
    dataDir: config.dataDir ?? null,
    imbalance: config.imbalance,
    depth: config.depth,
    seed: config.seed,
    phase1: config.phase1,
    limits: {
      maxTrainPerClass: limits.maxTrainPerClass ?? null,
      maxTestPerClass: limits.maxTestPerClass ?? null,
    },
  };
}

export function samplerKey(config: RunConfig<string>, limits: DataLimits, sampler: MethodKey): SamplerKey {
  return {
    ...backboneKey(config, limits),
    sampler,
    kNeighbors: config.kNeighbors ?? null,
    phase3: config.phase3,
  };
}

export interface BackboneResult {
  kind: 'phase1';
  backbone: Phase1Variant;
  seedIndex: number;
  key: BackboneKey;
  backend: string;
  threads: number;
  data: { train: number; test: number; classCounts: number[]; classNames: string[] | null };
  history: EpochRecord[];
  resumedFrom: { epoch: number; batch: number } | null;
  seconds: {
    /** Training the backbone, summed over the sessions that worked on it (checkpoint writes included). */
    phase1: number;
    /** Embedding the training set and predicting the test set. */
    embed: number;
    /** The generalization gap of the real training embeddings. */
    gap: number;
    /**
     * Over-sampling the images in pixel space before training (pixel-smote, pixel-ros; 0 for the others).
     * Absent from results stored before it was recorded.
     */
    pixelResample?: number;
  };
  /** Learnable parameters of the network phase 1 trained (absent from results stored before it was recorded). */
  trainedParameters?: number;
  /**
   * The pixel-space over-sampling of the training images phase 1 trained on (null: the imbalanced images as
   * they are). `data` still describes the original imbalanced split, which the embeddings are computed on.
   */
  pixelResample?: {
    method: PixelResampler;
    kNeighbors: number | null;
    seed: number;
    /** Training images after over-sampling, and per class. */
    images: number;
    classCounts: number[];
  } | null;
  /** The phase-1 network alone on the test set. */
  test: ClassificationMetrics;
  /** Generalization gap of the real training embeddings vs the test embeddings ("before"). */
  gap: GeneralizationGap;
  /**
   * The machine that finished this unit (machine.ts machineLabel), so the report can tell apart seconds from
   * different machines. Absent from results stored before it was recorded (see unit-machines.ts).
   */
  machine?: string;
  finishedAt: string;
}

export interface SamplerResult {
  kind: 'phase23';
  backbone: Phase1Variant;
  seedIndex: number;
  sampler: MethodKey;
  key: SamplerKey;
  /** Rows phase 2 added. */
  synthetic: number;
  fallbacks: string[];
  seconds: { resample: number; phase3: number };
  test: ClassificationMetrics;
  /** Mean loss of the last phase-3 epoch. */
  finalLoss: number;
  /**
   * The gap with this sampler's synthetic rows in the training set ("after"), for the main sampler only; raw
   * (its ratios divide by the real + synthetic rows' spread): the report re-bases it on the real rows' spread
   * (gapAgainstRealSpread).
   */
  gapAfter: GeneralizationGap | null;
  /**
   * The machine that finished this unit (machine.ts machineLabel), so the report can tell apart seconds from
   * different machines. Absent from results stored before it was recorded (see unit-machines.ts).
   */
  machine?: string;
  finishedAt: string;
}

export type UnitResult = BackboneResult | SamplerResult;
