// Phase 1 of the method: end-to-end training of the CNN on the (imbalanced) training set.
//
// Every epoch runs natively in one call. After every epoch a checkpoint (model tensors with PyTorch names +
// SGD momentum + where training stands) is written atomically; an abort (Ctrl-C) also writes one at the batch
// where it stopped. Because the epoch order, the augmentation draws and the class weights are functions of
// (seed, epoch) only, a run resumed from any checkpoint ends with exactly the bytes of an uninterrupted run.
import { existsSync } from 'node:fs';
import type { Dataset } from '../data/dataset.js';
import { classCounts } from '../data/dataset-ops.js';
import { AUGMENTATION, PHASE1 } from '../defaults.js';
import type { ResNet } from '../model/resnet.js';
import { metadataJson, readSafetensors, type Tensor, writeSafetensors } from '../model/safetensors.js';
import { isAbortError, type NativeEpochProgress } from '../native.js';
import { classWeightsAt, type TrainRule } from './class-weights.js';
import { type LossName, lossOptions } from './loss-config.js';
import { type LrSchedule, learningRateAt, scaledSchedule, validateSchedule } from './lr-schedule.js';
import { epochOrder } from './sample-order.js';

type EpochOutcome =
  | { done: true; progress: NativeEpochProgress }
  | { done: false; stoppedAt: NativeEpochProgress };

// An epoch stopped by the signal rejects with an AbortError carrying its progress (the one abort
// convention of the native promises); here it becomes the place to checkpoint and resume from.
async function untilStopped(epoch: Promise<NativeEpochProgress>): Promise<EpochOutcome> {
  try {
    return { done: true, progress: await epoch };
  } catch (err) {
    if (isAbortError(err) && err.partial) return { done: false, stoppedAt: err.partial };
    throw err;
  }
}

export interface Phase1Options {
  epochs: number;
  /** Default: the paper's schedule scaled to `epochs` (warm-up 5, x0.01 at 80%, x0.0001 at 90%). */
  schedule?: LrSchedule;
  /** Images per SGD step (the run's value, lib/defaults.ts PHASE1.batch by default). */
  batch: number;
  loss?: LossName;
  focalGamma?: number;
  trainRule?: TrainRule;
  /** Epoch where `drw` switches its weights on (default: the schedule's first step). */
  drwEpoch?: number;
  /** SGD momentum and weight decay: the run's values (lib/defaults.ts SGD holds the paper's). */
  momentum: number;
  weightDecay: number;
  seed?: number;
  pad?: number;
  flip?: boolean;
  /** Checkpoint file, rewritten after every epoch and on abort. */
  checkpointPath?: string;
  /** Continue from `checkpointPath` when it exists (its configuration must match). */
  resume?: boolean;
  /** Batches between progress reports (default 10). */
  progressEvery?: number;
  onProgress?: (
    epoch: number,
    p: { batches: number; batchesTotal: number; loss: number; accuracy: number },
  ) => void;
  onEpoch?: (record: EpochRecord) => void;
  /** Called once, before training, when a checkpoint is resumed: where training stands in it. */
  onResumed?: (from: { epoch: number; batch: number; checkpoint: string }) => void;
  signal?: AbortSignal;
}

/**
 * Phase 1 stopped because the training loss stopped being finite (a learning rate too large for the data,
 * usually). The checkpoint on disk, if any, is the last good one: the diverged state is never written.
 */
export class TrainingDiverged extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TrainingDiverged';
  }
}

export interface EpochRecord {
  epoch: number;
  lr: number;
  loss: number;
  accuracy: number;
  seconds: number;
  imagesPerSecond: number;
}

export interface Phase1Result {
  history: EpochRecord[];
  /** The epoch (and batch) a resumed run continued from, if any. */
  resumedFrom: { epoch: number; batch: number } | null;
  /** True when aborted; the checkpoint then holds the state to resume from. */
  aborted: boolean;
  /**
   * Seconds spent training this run, over every session that worked on it: the checkpoint carries them, so a
   * session killed without warning loses only the time since its last checkpoint (work that is redone).
   */
  seconds: number;
}

interface TrainState {
  /** Epochs fully done. */
  epoch: number;
  /** Batches of epoch `epoch` already done (non-zero only for a checkpoint written on abort). */
  batch: number;
  fingerprint: string;
  history: EpochRecord[];
  /**
   * Seconds spent training up to this state, over every session (checkpoint writes included). Absent from
   * checkpoints of older versions: the finished epochs' own seconds stand in.
   */
  seconds?: number;
}

const MOMENTUM_PREFIX = 'train_state.momentum.';

function resolved(options: Phase1Options) {
  const schedule = options.schedule ?? scaledSchedule(options.epochs);
  validateSchedule(schedule, 'schedule');
  if (!Number.isInteger(options.epochs) || options.epochs < 1) {
    throw new RangeError(`epochs must be an integer >= 1, got ${options.epochs}`);
  }
  const sgd = {
    batch: options.batch,
    momentum: options.momentum,
    weightDecay: options.weightDecay,
  };
  requireSgd(sgd);
  return {
    epochs: options.epochs,
    schedule,
    batch: sgd.batch,
    loss: options.loss ?? PHASE1.loss,
    focalGamma: options.focalGamma ?? PHASE1.focalGamma,
    trainRule: options.trainRule ?? PHASE1.trainRule,
    drwEpoch: options.drwEpoch ?? schedule.steps[0]?.[0] ?? Math.round(options.epochs * 0.8),
    momentum: sgd.momentum,
    weightDecay: sgd.weightDecay,
    seed: options.seed ?? 0,
    pad: options.pad ?? AUGMENTATION.pad,
    flip: options.flip ?? AUGMENTATION.flip,
  };
}

/** Throws unless batch, momentum and weight decay are given and valid (there is no default down here). */
export function requireSgd(o: { batch: number; momentum: number; weightDecay: number }): void {
  if (!Number.isInteger(o.batch) || o.batch < 1)
    throw new RangeError(`batch must be an integer >= 1, got ${o.batch}`);
  if (!(typeof o.momentum === 'number' && o.momentum >= 0 && o.momentum < 1))
    throw new RangeError(`momentum must be a number in [0, 1), got ${o.momentum}`);
  if (!(typeof o.weightDecay === 'number' && o.weightDecay >= 0 && Number.isFinite(o.weightDecay)))
    throw new RangeError(`weightDecay must be a number >= 0, got ${o.weightDecay}`);
}

/** What must match for a checkpoint to be resumed: the configuration and the data it trains on. */
function fingerprint(model: ResNet, data: Dataset, config: ReturnType<typeof resolved>): string {
  let h = 2166136261;
  for (let i = 0; i < data.labels.length; i++) h = Math.imul(h ^ data.labels[i], 16777619) >>> 0;
  for (let i = 0; i < data.images.length; i += 9973) h = Math.imul(h ^ data.images[i], 16777619) >>> 0;
  return JSON.stringify({
    spec: model.spec,
    normalization: model.normalization,
    config,
    n: data.labels.length,
    data: h,
  });
}

function saveCheckpoint(path: string, model: ResNet, state: TrainState): void {
  const tensors: Record<string, Tensor> = Object.fromEntries(model.stateDict());
  for (const [name, t] of model.momentumState()) tensors[MOMENTUM_PREFIX + name] = t;
  writeSafetensors(path, tensors, { ...model.metadata(), 'eos.train_state': JSON.stringify(state) });
}

function loadCheckpoint(path: string, model: ResNet, expected: string): TrainState {
  const { tensors, metadata } = readSafetensors(path);
  const state = (metadataJson(path, metadata, 'eos.train_state') ?? null) as TrainState | null;
  if (!state) throw new Error(`${path}: not a phase-1 checkpoint (no eos.train_state metadata)`);
  if (state.fingerprint !== expected) {
    throw new Error(
      `${path}: this checkpoint was written by a run with another configuration or data set; ` +
        'resume with the same options, or start afresh (delete it or choose another output directory)',
    );
  }
  model.loadStateDict(tensors, path);
  const momentum = new Map<string, Tensor>();
  for (const [name, t] of tensors)
    if (name.startsWith(MOMENTUM_PREFIX)) momentum.set(name.slice(MOMENTUM_PREFIX.length), t);
  model.loadMomentumState(momentum, path);
  return state;
}

export async function trainPhase1(
  model: ResNet,
  data: Dataset,
  options: Phase1Options,
): Promise<Phase1Result> {
  const config = resolved(options);
  const counts = classCounts(data.labels, data.classes);
  const print = fingerprint(model, data, config);
  let state: TrainState = { epoch: 0, batch: 0, fingerprint: print, history: [] };
  let resumedFrom: Phase1Result['resumedFrom'] = null;
  if (options.resume && options.checkpointPath && existsSync(options.checkpointPath)) {
    state = loadCheckpoint(options.checkpointPath, model, print);
    resumedFrom = { epoch: state.epoch, batch: state.batch };
    options.onResumed?.({ ...resumedFrom, checkpoint: options.checkpointPath });
  }
  const recorded = state.seconds;
  const spentBefore =
    typeof recorded === 'number' && Number.isFinite(recorded) && recorded >= 0
      ? recorded
      : state.history.reduce((sum, r) => sum + r.seconds, 0);
  const sessionStart = performance.now();
  const spent = () => spentBefore + (performance.now() - sessionStart) / 1000;
  const save = (at: TrainState) => {
    if (options.checkpointPath) saveCheckpoint(options.checkpointPath, model, { ...at, seconds: spent() });
  };
  const loss = lossOptions(
    { loss: config.loss, focalGamma: config.focalGamma },
    counts.map((n) => Math.max(n, 1)),
  );
  const shape = data.shape;
  while (state.epoch < config.epochs) {
    const epoch = state.epoch;
    const lr = learningRateAt(config.schedule, epoch);
    const fullOrder = epochOrder(config.trainRule, data.labels, data.classes, config.seed, epoch);
    const skip = state.batch * config.batch;
    const started = performance.now();
    const outcome = await untilStopped(
      model.trainEpoch(
        { images: data.images, shape },
        {
          order: fullOrder.subarray(skip),
          labels: data.labels,
          epoch,
          lr,
          batch: config.batch,
          momentum: config.momentum,
          weightDecay: config.weightDecay,
          loss,
          classWeights: classWeightsAt(config.trainRule, epoch, counts, config.drwEpoch),
          pad: config.pad,
          flip: config.flip,
          seed: config.seed,
          progressEvery: options.progressEvery,
          onProgress: (p) =>
            options.onProgress?.(epoch, {
              ...p,
              batches: p.batches + state.batch,
              batchesTotal: p.batchesTotal + state.batch,
            }),
          signal: options.signal,
        },
      ),
    );
    const seconds = (performance.now() - started) / 1000;
    if (!outcome.done) {
      state = { ...state, batch: state.batch + outcome.stoppedAt.batches };
      save(state);
      return { history: state.history, resumedFrom, aborted: true, seconds: spent() };
    }
    const result = outcome.progress;
    if (result.diverged) {
      // A checkpoint exists only once this run resumed one or finished an epoch (a file there otherwise is
      // another run's, which the next run would refuse by its fingerprint).
      const kept =
        options.checkpointPath && (state.epoch > 0 || state.batch > 0) && existsSync(options.checkpointPath)
          ? `the last good checkpoint (${state.epoch} epochs${state.batch ? ` and ${state.batch} batches` : ''} done) is kept in ${options.checkpointPath}`
          : 'no checkpoint was written';
      throw new TrainingDiverged(
        `phase 1 diverged: the training loss is not finite at epoch ${epoch + 1} of ${config.epochs}, batch ` +
          `${state.batch + result.batches} of ${state.batch + result.batchesTotal} (learning rate ${lr}); ${kept}; ` +
          'use a smaller learning rate (--lr)',
      );
    }
    const record: EpochRecord = {
      epoch,
      lr,
      loss: result.loss,
      accuracy: result.accuracy,
      seconds,
      imagesPerSecond: result.images / seconds,
    };
    state = { ...state, epoch: epoch + 1, batch: 0, history: [...state.history, record] };
    save(state);
    options.onEpoch?.(record);
  }
  return { history: state.history, resumedFrom, aborted: false, seconds: spent() };
}
