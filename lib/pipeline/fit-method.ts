// Phases 2 and 3 of one method on a trained backbone's embeddings: resample with the named sampler, then a
// fresh head trained on the result with the run's phase-3 settings. Shared by `eos run` and `eos compare`.

import { EMBEDDING_SIZE } from '../model/spec.js';
import type { ResampleResult } from '../resample/types.js';
import { type FineTunedHead, fineTuneHead } from '../train/fine-tune-head.js';
import type { RunConfig } from './config.js';
import { resampleWith, type SamplerName } from './samplers.js';

export interface FittedMethod {
  resampled: ResampleResult;
  head: FineTunedHead;
  seconds: { resample: number; phase3: number };
}

export async function fitMethod(
  name: SamplerName,
  embeddings: Float32Array,
  labels: Int32Array,
  classes: number,
  config: RunConfig,
  signal?: AbortSignal,
): Promise<FittedMethod> {
  const t0 = performance.now();
  const resampled = await resampleWith(name, embeddings, labels, EMBEDDING_SIZE, {
    seed: config.seed,
    kNeighbors: config.kNeighbors,
    threads: config.threads || undefined,
  });
  const t1 = performance.now();
  const head = await fineTuneHead(resampled.x, resampled.y, classes, {
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
  return { resampled, head, seconds: { resample: (t1 - t0) / 1000, phase3: (t2 - t1) / 1000 } };
}
