// One phase-2+3 unit: the pipeline's method step (resample a backbone's training embeddings with one sampler,
// fit a fresh head, score it on the test embeddings), stored as a unit result.
import type { RunConfig } from '../pipeline/config.js';
import { embeddingGap } from '../pipeline/evaluate.js';
import { fitAndScoreMethod } from '../pipeline/fit-method.js';
import type { RunData, RunEmbeddings } from '../pipeline/types.js';
import { COMPARISON_METHOD_TABLE } from './methods.js';
import type { ComparisonSettings, SamplerUnit } from './plan.js';
import { type SamplerResult, samplerKey } from './unit-results.js';

export async function fitSampler(
  settings: ComparisonSettings,
  unit: SamplerUnit,
  config: RunConfig<string>,
  data: RunData,
  embeddings: RunEmbeddings,
  signal?: AbortSignal,
): Promise<SamplerResult> {
  const { resampled, result } = await fitAndScoreMethod(
    unit.sampler,
    COMPARISON_METHOD_TABLE[unit.sampler].choice,
    embeddings,
    data,
    config,
    signal,
  );
  // The "after" gap: how far the test embeddings fall from the training set once the synthetic rows are in
  // it. Only for the main sampler: it costs seconds per class on a balanced set.
  const gapAfter =
    unit.sampler === settings.mainSampler
      ? embeddingGap(
          { embeddings: resampled.x, labels: resampled.y },
          { embeddings: embeddings.test, labels: data.test.labels },
          data.classes,
        )
      : null;
  return {
    kind: 'phase23',
    backbone: unit.backbone,
    seedIndex: unit.seedIndex,
    sampler: unit.sampler,
    key: samplerKey(config, settings.limits, unit.sampler),
    synthetic: result.synthetic,
    fallbacks: result.fallbacks,
    seconds: result.seconds,
    test: result.test,
    finalLoss: result.finalLoss,
    gapAfter,
    finishedAt: new Date().toISOString(),
  };
}
