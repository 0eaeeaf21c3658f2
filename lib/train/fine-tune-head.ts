// Phase 3: a fresh classifier head trained on the balanced embeddings; the backbone is not touched.
// The caller gives the batch and the SGD momentum and weight decay; the other defaults (10 epochs, lr 0.1
// with a 5-epoch warm-up, CE, no train rule) are lib/defaults.ts PHASE3, the paper's.
import { PHASE3 } from '../defaults.js';
import { type BackendChoice, type HeadKindName, type HeadWeights, native } from '../native.js';
import { stopFlagFor } from '../stop-flag.js';
import { classWeightsAt, type TrainRule } from './class-weights.js';
import { type LossSettings, lossOptions } from './loss-config.js';
import { type LrSchedule, learningRateAt, validateSchedule } from './lr-schedule.js';
import { requireSgd } from './phase1.js';
import { epochOrder } from './sample-order.js';

export interface FineTuneOptions extends Partial<LossSettings> {
  head?: HeadKindName;
  epochs?: number;
  /** Embeddings per SGD step. */
  batch: number;
  schedule?: LrSchedule;
  /** SGD momentum and weight decay: the run's values (lib/defaults.ts SGD holds the paper's). */
  momentum: number;
  weightDecay: number;
  trainRule?: TrainRule;
  seed?: number;
  threads?: number;
  /** Whose head engine trains it (the backbone's backend; 'auto': the fastest built in). */
  backend?: BackendChoice;
  signal?: AbortSignal;
}

export interface FineTunedHead extends HeadWeights {
  head: HeadKindName;
  dim: number;
  classes: number;
  /** Mean training loss of every epoch. */
  losses: number[];
}

export async function fineTuneHead(
  x: Float32Array,
  labels: Int32Array,
  classes: number,
  options: FineTuneOptions,
): Promise<FineTunedHead> {
  const epochs = options.epochs ?? PHASE3.epochs;
  const dim = labels.length > 0 ? x.length / labels.length : 0;
  if (!Number.isInteger(dim) || dim < 1) {
    throw new RangeError(`x must hold labels.length = ${labels.length} rows, got ${x.length} values`);
  }
  const schedule = options.schedule ?? {
    lr: PHASE3.lr,
    warmupEpochs: Math.min(PHASE3.warmupEpochs, epochs - 1),
    steps: [],
  };
  validateSchedule(schedule, 'schedule');
  const sgd = {
    batch: options.batch,
    momentum: options.momentum,
    weightDecay: options.weightDecay,
  };
  requireSgd(sgd);
  const counts = new Array<number>(classes).fill(0);
  for (const y of labels) {
    if (!(y >= 0 && y < classes)) throw new RangeError(`labels hold ${y}, outside [0, ${classes})`);
    counts[y]++;
  }
  const rule = options.trainRule ?? PHASE3.trainRule;
  const seed = options.seed ?? 0;
  const orders = new Int32Array(epochs * labels.length);
  for (let e = 0; e < epochs; e++) orders.set(epochOrder(rule, labels, classes, seed, e), e * labels.length);
  const presentCounts = counts.map((n) => Math.max(n, 1));
  const stop = stopFlagFor(options.signal);
  const head = options.head ?? 'linear';
  try {
    const result = await native().trainHead(
      x,
      labels,
      orders,
      {
        head,
        dim,
        classes,
        batch: sgd.batch,
        epochs,
        lrPerEpoch: Array.from({ length: epochs }, (_, e) => learningRateAt(schedule, e)),
        weightsPerEpoch: Array.from({ length: epochs }, (_, e) => {
          const w = classWeightsAt(rule, e, presentCounts, Math.round(epochs * 0.8));
          return w ? Array.from(w) : null;
        }),
        loss: lossOptions(
          { loss: options.loss ?? PHASE3.loss, focalGamma: options.focalGamma },
          presentCounts,
        ),
        momentum: sgd.momentum,
        weightDecay: sgd.weightDecay,
        nesterov: false,
        seed,
        threads: options.threads ?? 0,
        backend: options.backend ?? 'auto',
      },
      null,
      stop.flag,
    );
    const diverged = result.losses.findIndex((loss) => !Number.isFinite(loss));
    if (diverged >= 0) {
      throw new RangeError(
        `phase 3 diverged: the head's training loss is not finite at epoch ${diverged + 1} of ${epochs} ` +
          `(learning rate ${learningRateAt(schedule, diverged)}); use a smaller phase-3 learning rate (--head-lr)`,
      );
    }
    return { ...result, head, dim, classes };
  } finally {
    stop.dispose();
  }
}

/** Logits [N, classes] of a fine-tuned head on embeddings x [N, dim]. */
export function headLogits(head: FineTunedHead, x: Float32Array): Float32Array {
  return native().headLogits(x, {
    kind: head.head,
    dim: head.dim,
    classes: head.classes,
    weight: head.weight,
    bias: head.bias,
  });
}
