// One phase-1 unit: train (or resume, or reload) a backbone, then embed the training and test sets with it.
// Trained: its result (the network alone on the test set, the training curve, the "before" generalization
// gap) is returned for the store. Reloaded (phase 1 finished in an earlier session, some samplers not): only
// the embeddings are recomputed from the saved phase-1 model.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic-write.js';
import { generalizationGap } from '../metrics/generalization-gap.js';
import { ResNet } from '../model/resnet.js';
import { EMBEDDING_SIZE } from '../model/spec.js';
import type { RunConfig } from '../pipeline/config.js';
import { scoreLogits } from '../pipeline/evaluate.js';
import { createModel, type RunData } from '../pipeline/prepare-data.js';
import type { PipelineEvent } from '../pipeline/run-three-phase.js';
import { trainBackbone } from '../pipeline/train-backbone.js';
import type { BackboneEmbeddings } from './fit-sampler.js';
import type { BackboneUnit, ComparisonSettings } from './plan.js';
import { type BackboneResult, backboneKey } from './unit-results.js';

export type TrainBackbone = typeof trainBackbone;

const batchOf = (d: RunData['train']) => ({ images: d.images, shape: d.shape });

export const phase1ModelPath = (config: RunConfig) => join(config.outDir, 'phase1-model.safetensors');
export const phase1CheckpointPath = (config: RunConfig) =>
  join(config.outDir, 'checkpoints', 'phase1.safetensors');

export async function trainBackboneUnit(
  settings: ComparisonSettings,
  unit: BackboneUnit,
  config: RunConfig,
  data: RunData,
  options: { train?: TrainBackbone; signal?: AbortSignal; emit: (e: PipelineEvent) => void },
): Promise<{ result: BackboneResult; embeddings: BackboneEmbeddings }> {
  mkdirSync(join(config.outDir, 'checkpoints'), { recursive: true });
  writeFileAtomic(join(config.outDir, 'config.json'), [Buffer.from(`${JSON.stringify(config, null, 2)}\n`)]);
  const model = createModel(config, data);
  // Phase-1 time over sessions: an interrupted session adds the seconds it trained to this file (the epoch
  // records alone would lose the part of an epoch done before the interruption). Those seconds count only
  // when their checkpoint is there to continue from: without it (a fresh clone; model files are not
  // committed) phase 1 starts over and the earlier attempt's time is not part of it.
  const spentFile = join(config.outDir, 'phase1-interrupted-seconds.json');
  const spentBefore =
    existsSync(spentFile) && existsSync(phase1CheckpointPath(config))
      ? (JSON.parse(readFileSync(spentFile, 'utf8')) as number)
      : 0;
  const trainStart = performance.now();
  const trainSeconds = () => spentBefore + (performance.now() - trainStart) / 1000;
  try {
    // resume: true always: a checkpoint left by an interrupted session is continued, none means a fresh start.
    const { p1 } = await (options.train ?? trainBackbone)(config, data, model, {
      resume: true,
      signal: options.signal,
      emit: options.emit,
    }).catch((err: unknown) => {
      writeFileAtomic(spentFile, [Buffer.from(`${trainSeconds()}\n`)]);
      throw err;
    });
    const phase1Seconds = trainSeconds();
    const t0 = performance.now();
    const train = await model.embed(batchOf(data.train), options.signal);
    const testOut = await model.predict(batchOf(data.test), {
      logits: true,
      embeddings: true,
      signal: options.signal,
    });
    const t1 = performance.now();
    const test = testOut.embeddings!;
    const gap = generalizationGap(
      { embeddings: train, labels: data.train.labels },
      { embeddings: test, labels: data.test.labels },
      { dim: EMBEDDING_SIZE, classes: data.classes },
    );
    const t2 = performance.now();
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
        phase1: phase1Seconds,
        embed: (t1 - t0) / 1000,
        gap: (t2 - t1) / 1000,
      },
      test: scoreLogits(testOut.logits!, data.test.labels, data.classes),
      gap,
      finishedAt: new Date().toISOString(),
    };
    return { result, embeddings: { train, test } };
  } finally {
    model.dispose();
  }
}

/** The embeddings of a backbone whose phase 1 finished in an earlier session, from its saved model. */
export async function reloadEmbeddings(
  config: RunConfig,
  data: RunData,
  signal?: AbortSignal,
): Promise<BackboneEmbeddings> {
  const path = phase1ModelPath(config);
  if (!existsSync(path)) {
    throw new Error(
      `${path} is missing, but ${join(config.outDir, 'phase1.json')} says phase 1 finished; ` +
        'delete phase1.json to retrain this backbone',
    );
  }
  const model = ResNet.load(path, { backend: config.backend, threads: config.threads });
  try {
    const train = await model.embed(batchOf(data.train), signal);
    const test = await model.embed(batchOf(data.test), signal);
    return { train, test };
  } finally {
    model.dispose();
  }
}
