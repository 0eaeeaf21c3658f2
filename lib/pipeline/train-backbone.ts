// Phase 1 of a run (shared by `eos run` and `eos train`): trains the backbone with a checkpoint after every
// epoch in <out>/checkpoints/phase1.safetensors and saves the model as <out>/phase1-model.safetensors.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic-write.js';
import type { ResNet } from '../model/resnet.js';
import { scaledSchedule } from '../train/lr-schedule.js';
import { type Phase1Result, trainPhase1 } from '../train/phase1.js';
import type { RunConfig } from './config.js';
import { createModel, prepareData, type RunData } from './prepare-data.js';
import type { PipelineEvent } from './run-three-phase.js';

export class RunAborted extends Error {
  constructor(readonly checkpoint: string) {
    super(`interrupted; the phase-1 state is saved in ${checkpoint}`);
    this.name = 'RunAborted';
  }
}

export interface BackboneOptions {
  resume?: boolean;
  signal?: AbortSignal;
  emit: (e: PipelineEvent) => void;
}

export async function trainBackbone(
  config: RunConfig,
  data: RunData,
  model: ResNet,
  options: BackboneOptions,
) {
  const { emit } = options;
  emit({
    kind: 'phase',
    phase: 'phase1',
    message: `phase 1: ResNet-${config.depth} on ${data.train.labels.length} images (${model.backend} backend)`,
  });
  const checkpoint = join(config.outDir, 'checkpoints', 'phase1.safetensors');
  const started = performance.now();
  const p1: Phase1Result = await trainPhase1(model, data.train, {
    epochs: config.phase1.epochs,
    // The paper's steps (x0.01 at 160/200, x0.0001 at 180/200) scaled to the run's length.
    schedule: scaledSchedule(config.phase1.epochs, config.phase1.lr, config.phase1.warmupEpochs),
    batch: config.phase1.batch,
    loss: config.phase1.loss,
    focalGamma: config.phase1.focalGamma,
    trainRule: config.phase1.trainRule,
    seed: config.seed,
    checkpointPath: checkpoint,
    resume: options.resume,
    progressEvery: 5,
    signal: options.signal,
    onProgress: (epoch, p) => emit({ kind: 'batch', epoch, epochs: config.phase1.epochs, ...p }),
    onEpoch: (record) => emit({ kind: 'epoch', epochs: config.phase1.epochs, record }),
  });
  if (p1.aborted) throw new RunAborted(checkpoint);
  const phase1Model = join(config.outDir, 'phase1-model.safetensors');
  model.save(phase1Model);
  return { p1, seconds: (performance.now() - started) / 1000, checkpoint, phase1Model };
}

export interface Phase1OnlyResult {
  backend: string;
  history: Phase1Result['history'];
  seconds: number;
  files: { config: string; checkpoint: string; phase1Model: string };
}

/** `eos train`: data, model and phase 1, nothing more. */
export async function runPhase1Only(
  config: RunConfig,
  options: { resume?: boolean; signal?: AbortSignal; onEvent?: (e: PipelineEvent) => void } = {},
): Promise<Phase1OnlyResult> {
  const emit = options.onEvent ?? (() => {});
  mkdirSync(join(config.outDir, 'checkpoints'), { recursive: true });
  const configPath = join(config.outDir, 'config.json');
  writeFileAtomic(configPath, [Buffer.from(`${JSON.stringify(config, null, 2)}\n`)]);
  emit({ kind: 'phase', phase: 'data', message: `loading ${config.dataset}` });
  const data = await prepareData(config);
  const model = createModel(config, data);
  try {
    const r = await trainBackbone(config, data, model, {
      resume: options.resume,
      signal: options.signal,
      emit,
    });
    return {
      backend: model.backend,
      history: r.p1.history,
      seconds: r.seconds,
      files: { config: configPath, checkpoint: r.checkpoint, phase1Model: r.phase1Model },
    };
  } finally {
    model.dispose();
  }
}
