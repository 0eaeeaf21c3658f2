// One phase-2+3 unit: resample a backbone's training embeddings with one sampler, fit a fresh head on them
// and score it on the test embeddings (the same steps as the method loop of run-three-phase.ts).
import { generalizationGap } from '../metrics/generalization-gap.js';
import { EMBEDDING_SIZE } from '../model/spec.js';
import type { RunConfig } from '../pipeline/config.js';
import { scoreLogits } from '../pipeline/evaluate.js';
import type { RunData } from '../pipeline/prepare-data.js';
import { resampleWith } from '../pipeline/samplers.js';
import { fineTuneHead, headLogits } from '../train/fine-tune-head.js';
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
  const t0 = performance.now();
  const resampled = await resampleWith(unit.sampler, embeddings.train, train.labels, EMBEDDING_SIZE, {
    seed: config.seed,
    kNeighbors: config.kNeighbors,
    threads: config.threads || undefined,
  });
  const t1 = performance.now();
  const fitted = await fineTuneHead(resampled.x, resampled.y, classes, {
    head: config.phase1.loss === 'ldam' ? 'cosine' : 'linear',
    loss: config.phase3.loss,
    epochs: config.phase3.epochs,
    batch: config.phase3.batch,
    schedule: {
      lr: config.phase3.lr,
      warmupEpochs: Math.min(config.phase3.warmupEpochs, config.phase3.epochs - 1),
      steps: [],
    },
    trainRule: config.phase3.trainRule,
    seed: config.seed,
    threads: config.threads || undefined,
    signal,
  });
  const t2 = performance.now();
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
    seconds: { resample: (t1 - t0) / 1000, phase3: (t2 - t1) / 1000 },
    test: scoreLogits(headLogits(fitted, embeddings.test), test.labels, classes),
    finalLoss: fitted.losses[fitted.losses.length - 1],
    gapAfter,
    finishedAt: new Date().toISOString(),
  };
}
