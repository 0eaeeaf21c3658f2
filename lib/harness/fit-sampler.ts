// One phase-2+3 unit: resample a backbone's training embeddings with one sampler, fit a fresh head on them
// and score it on the test embeddings (fitMethod, as the method loop of run-three-phase.ts).
import { generalizationGap } from '../metrics/generalization-gap.js';
import { EMBEDDING_SIZE } from '../model/spec.js';
import type { RunConfig } from '../pipeline/config.js';
import { scoreLogits } from '../pipeline/evaluate.js';
import { fitMethod } from '../pipeline/fit-method.js';
import type { RunData } from '../pipeline/prepare-data.js';
import { headLogits } from '../train/fine-tune-head.js';
import type { ComparisonSettings, SamplerUnit } from './plan.js';
import { type SamplerResult, samplerKey } from './unit-results.js';

export interface BackboneEmbeddings {
  train: Float32Array;
  test: Float32Array;
}

export async function fitSampler(
  settings: ComparisonSettings,
  unit: SamplerUnit,
  config: RunConfig,
  data: RunData,
  embeddings: BackboneEmbeddings,
  signal?: AbortSignal,
): Promise<SamplerResult> {
  const { train, test, classes } = data;
  const {
    resampled,
    head: fitted,
    seconds,
  } = await fitMethod(unit.sampler, embeddings.train, train.labels, classes, config, signal);
  // The "after" gap: how far the test embeddings fall from the training set once the synthetic rows are in
  // it. Only for the main sampler: it costs seconds per class on a balanced set.
  const gapAfter =
    unit.sampler === settings.mainSampler
      ? generalizationGap(
          { embeddings: resampled.x, labels: resampled.y },
          { embeddings: embeddings.test, labels: test.labels },
          { dim: EMBEDDING_SIZE, classes },
        )
      : null;
  return {
    kind: 'phase23',
    backbone: unit.backbone,
    seedIndex: unit.seedIndex,
    sampler: unit.sampler,
    key: samplerKey(config, settings.limits, unit.sampler),
    synthetic: resampled.y.length - train.labels.length,
    fallbacks: resampled.fallbacks.map((f) => f.message),
    seconds,
    test: scoreLogits(headLogits(fitted, embeddings.test), test.labels, classes),
    finalLoss: fitted.losses[fitted.losses.length - 1],
    gapAfter,
    finishedAt: new Date().toISOString(),
  };
}
