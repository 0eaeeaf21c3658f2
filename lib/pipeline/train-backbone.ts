// The backbone step of a run (phase 1): a fresh model, trained with a checkpoint after every epoch in
// <out>/checkpoints/phase1.safetensors and saved as <out>/phase1-model.safetensors.
import { ResNet } from '../model/resnet.js';
import { scaledSchedule } from '../train/lr-schedule.js';
import { trainPhase1 } from '../train/phase1.js';
import type { RunConfig } from './config.js';
import { headKindFor } from './head-kind.js';
import { runPaths } from './run-paths.js';
import type { BackboneOptions, RunData, TrainedBackbone } from './types.js';

/** A run stopped by its signal: an AbortError (the one abort convention, lib/native.ts isAbortError). */
export class RunAborted extends Error {
  constructor(readonly checkpoint: string) {
    super(`interrupted; the phase-1 state is saved in ${checkpoint}`);
    this.name = 'AbortError';
  }
}

/** A fresh phase-1 model for the run, normalising with the training images' statistics. */
export function createModel(config: RunConfig<string>, data: RunData): ResNet {
  const [, inChannels, inputSize] = data.train.shape;
  return ResNet.create({
    depth: config.depth,
    inChannels,
    inputSize,
    classes: data.classes,
    head: headKindFor(config),
    seed: config.seed,
    backend: config.backend,
    threads: config.threads,
    normalization: data.normalization,
  });
}

export async function trainBackbone(
  config: RunConfig<string>,
  data: RunData,
  model: ResNet,
  options: BackboneOptions,
): Promise<TrainedBackbone> {
  const { emit } = options;
  emit({
    kind: 'phase',
    phase: 'phase1',
    message: `phase 1: ResNet-${config.depth} on ${data.train.labels.length} images (${model.backend} backend)`,
  });
  const paths = runPaths(config.outDir);
  const checkpoint = paths.phase1Checkpoint;
  const started = performance.now();
  const p1 = await trainPhase1(model, data.train, {
    epochs: config.phase1.epochs,
    // The paper's steps (x0.01 at 160/200, x0.0001 at 180/200) scaled to the run's length.
    schedule: scaledSchedule(config.phase1.epochs, config.phase1.lr, config.phase1.warmupEpochs),
    batch: config.phase1.batch,
    momentum: config.phase1.momentum,
    weightDecay: config.phase1.weightDecay,
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
    onResumed: ({ epoch, batch }) =>
      emit({
        kind: 'phase',
        phase: 'phase1',
        message:
          `phase 1: resuming from ${checkpoint}: ${epoch} of ${config.phase1.epochs} epochs done` +
          (batch > 0 ? `, and ${batch} batches of epoch ${epoch + 1}` : ''),
      }),
  });
  if (p1.aborted) throw new RunAborted(checkpoint);
  model.save(paths.phase1Model);
  return { p1, seconds: (performance.now() - started) / 1000, checkpoint, phase1Model: paths.phase1Model };
}
