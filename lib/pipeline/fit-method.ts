// The method step, phases 2 and 3 on a trained backbone's embeddings: resample with the named sampler, then a
// fresh head trained on the result with the run's phase-3 settings, scored on the test (and validation)
// embeddings.
import { type BackendChoice, native } from '../native.js';
import { fineTuneHead, headLogits } from '../train/fine-tune-head.js';
import type { RunConfig } from './config.js';
import { scoreLogits } from './evaluate.js';
import { headKindFor } from './head-kind.js';
import { type RunSamplerSettings, resampleWith, type SamplerChoice, type SamplerName } from './samplers.js';
import type { FittedMethod, RunEmbeddings, RunLabels, ScoredMethod } from './types.js';

/**
 * What the run gives every sampler: its seed, neighbour count, threads and nearest-neighbour search, which runs
 * on the GPU when the run's backend does (the same neighbour lists either way).
 */
export function samplerSettings(config: RunConfig<string>): RunSamplerSettings {
  return {
    seed: config.seed,
    kNeighbors: config.kNeighbors,
    threads: config.threads || undefined,
    ...(config.knn === undefined ? {} : { knn: config.knn }),
    ...(runsOnCuda(config.backend) ? { device: 'cuda' as const } : {}),
  };
}

function runsOnCuda(backend: BackendChoice): boolean {
  return (backend === 'auto' ? native().info().backend : backend) === 'cuda';
}

export async function fitMethod(
  method: SamplerName | SamplerChoice,
  embeddings: Float32Array,
  labels: Int32Array,
  classes: number,
  config: RunConfig<string>,
  signal?: AbortSignal,
): Promise<FittedMethod> {
  const t0 = performance.now();
  const dim = embeddings.length / labels.length;
  const resampled = await resampleWith(method, embeddings, labels, dim, samplerSettings(config));
  const t1 = performance.now();
  const head = await fineTuneHead(resampled.x, resampled.y, classes, {
    head: headKindFor(config),
    loss: config.phase3.loss,
    epochs: config.phase3.epochs,
    batch: config.phase3.batch,
    momentum: config.phase3.momentum,
    weightDecay: config.phase3.weightDecay,
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

/**
 * fitMethod on the training embeddings, and the fresh head's scores on the test and validation sets, reported
 * under `name` (the sampler's, or the harness's name of a sampler with its own settings).
 */
export async function fitAndScoreMethod(
  name: string,
  method: SamplerName | SamplerChoice,
  embeddings: RunEmbeddings,
  data: RunLabels,
  config: RunConfig<string>,
  signal?: AbortSignal,
): Promise<ScoredMethod> {
  const { train, test, validation, classes } = data;
  const fitted = await fitMethod(method, embeddings.train, train.labels, classes, config, signal);
  const { resampled, head, seconds } = fitted;
  return {
    ...fitted,
    result: {
      name,
      synthetic: resampled.y.length - train.labels.length,
      fallbacks: resampled.fallbacks.map((f) => f.message),
      ...(resampled.searches ? { knn: resampled.searches } : {}),
      seconds,
      test: scoreLogits(headLogits(head, embeddings.test), test.labels, classes),
      validation:
        embeddings.validation && validation
          ? scoreLogits(headLogits(head, embeddings.validation), validation.labels, classes)
          : undefined,
      finalLoss: head.losses[head.losses.length - 1],
    },
  };
}
