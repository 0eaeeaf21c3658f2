// One phase-1 unit: train (or resume, or reload) a backbone, then embed the training and test sets with it.
// Trained: its result (the network alone on the test set, the training curve, the "before" generalization
// gap) is returned for the store. A pixel-space variant (pixel-smote, pixel-ros) trains on the images
// over-sampled to the majority count, seeded with the unit's seed; everything after training (the test
// score, the embeddings phases 2 and 3 fit on, the gap) uses the original imbalanced training images, so
// the samplers fitted on that backbone still see the imbalance they exist to correct. Reloaded (phase 1
// finished in an earlier session, some samplers not): only the embeddings are recomputed from the saved
// phase-1 model.
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { classCounts } from '../data/dataset-ops.js';
import { ResNet } from '../model/resnet.js';
import type { RunConfig } from '../pipeline/config.js';
import { embedBackbone, embedSplits } from '../pipeline/embed.js';
import { embeddingGap, scoreLogits } from '../pipeline/evaluate.js';
import { headKindFor } from '../pipeline/head-kind.js';
import { startRunDirectory } from '../pipeline/run-outputs.js';
import { runPaths } from '../pipeline/run-paths.js';
import { createModel, trainBackbone } from '../pipeline/train-backbone.js';
import type { PipelineEvent, RunData, RunEmbeddings } from '../pipeline/types.js';
import { networkParameterCount } from './parameter-counts.js';
import { pixelResamplerOf } from './phase1-variants.js';
import { PIXEL_SMOTE_K, resamplePixels } from './pixel-resample.js';
import type { BackboneUnit, ComparisonSettings } from './plan.js';
import { type BackboneResult, backboneKey } from './unit-results.js';

export type TrainBackbone = typeof trainBackbone;

export async function trainBackboneUnit(
  settings: ComparisonSettings,
  unit: BackboneUnit,
  config: RunConfig<string>,
  data: RunData,
  options: { train?: TrainBackbone; signal?: AbortSignal; emit: (e: PipelineEvent) => void },
): Promise<{ result: BackboneResult; embeddings: RunEmbeddings }> {
  const paths = runPaths(config.outDir);
  startRunDirectory(paths, config);
  const model = createModel(config, data);
  try {
    const method = pixelResamplerOf(unit.backbone);
    // Redone (seconds) by a resumed session rather than stored: the seeded resampling gives the same images.
    const pixels = method
      ? await resamplePixels(data.train, method, { seed: config.seed, threads: config.threads || undefined })
      : null;
    const trainData: RunData = pixels
      ? { ...data, train: pixels.train, counts: classCounts(pixels.train.labels, data.classes) }
      : data;
    // resume: true always: a checkpoint left by an interrupted session is continued, none means a fresh start.
    // p1.seconds counts every session's training: the checkpoint carries the time spent before it (without
    // it, as in a fresh clone where model files are not committed, phase 1 starts over and so does the count).
    const { p1 } = await (options.train ?? trainBackbone)(config, trainData, model, {
      resume: true,
      signal: options.signal,
      emit: options.emit,
    });
    const embedded = await embedBackbone(model, data, options.signal);
    const { embeddings } = embedded;
    const gapStart = performance.now();
    const gap = embeddingGap(
      { embeddings: embeddings.train, labels: data.train.labels },
      { embeddings: embeddings.test, labels: data.test.labels },
      data.classes,
    );
    const gapSeconds = (performance.now() - gapStart) / 1000;
    const result: BackboneResult = {
      kind: 'phase1',
      backbone: unit.backbone,
      seedIndex: unit.seedIndex,
      key: backboneKey(config, settings.limits),
      backend: model.backend,
      threads: config.threads,
      data: {
        train: data.train.labels.length,
        test: data.test.labels.length,
        classCounts: data.counts,
        classNames: data.classNames ?? null,
      },
      history: p1.history,
      resumedFrom: p1.resumedFrom,
      seconds: {
        phase1: p1.seconds,
        embed: embedded.seconds,
        gap: gapSeconds,
        pixelResample: pixels?.seconds ?? 0,
      },
      trainedParameters: networkParameterCount({
        depth: config.depth,
        inChannels: data.train.shape[1],
        inputSize: data.train.shape[2],
        classes: data.classes,
        head: headKindFor(config),
      }),
      pixelResample:
        pixels && method
          ? {
              method,
              kNeighbors: method === 'smote' ? PIXEL_SMOTE_K : null,
              seed: config.seed,
              images: pixels.train.labels.length,
              classCounts: classCounts(pixels.train.labels, data.classes),
            }
          : null,
      test: scoreLogits(embedded.testLogits, data.test.labels, data.classes),
      gap,
      finishedAt: new Date().toISOString(),
    };
    return { result, embeddings };
  } finally {
    model.dispose();
  }
}

/** The embeddings of a backbone whose phase 1 finished in an earlier session, from its saved model. */
export async function reloadEmbeddings(
  config: RunConfig<string>,
  data: RunData,
  signal?: AbortSignal,
): Promise<RunEmbeddings> {
  const paths = runPaths(config.outDir);
  if (!existsSync(paths.phase1Model)) {
    throw new Error(
      `${paths.phase1Model} is missing, but ${paths.phase1Result} says phase 1 finished; ` +
        `delete ${basename(paths.phase1Result)} to retrain this backbone`,
    );
  }
  const model = ResNet.load(paths.phase1Model, { backend: config.backend, threads: config.threads });
  try {
    return await embedSplits(model, data, signal);
  } finally {
    model.dispose();
  }
}
