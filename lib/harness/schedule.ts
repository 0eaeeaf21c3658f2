// The schedule every method of a comparison shares, in words for the reports. The lr steps are those
// trainBackbone uses (scaledSchedule: the paper's x0.01 at 160/200 and x0.0001 at 180/200, scaled).
import { scaledSchedule } from '../train/lr-schedule.js';
import type { ComparisonSettings } from './plan.js';

export function phase1Steps(epochs: number): [number, number][] {
  return scaledSchedule(epochs).steps;
}

const epochs = (n: number) => `${n} epoch${n === 1 ? '' : 's'}`;

export function describeSchedule(settings: ComparisonSettings): string[] {
  const { base, limits } = settings;
  const p1 = base.phase1;
  const p3 = base.phase3;
  const steps = phase1Steps(p1.epochs)
    .filter(([epoch]) => epoch < p1.epochs)
    .map(([epoch, factor]) => `x${factor} from epoch ${epoch + 1}`);
  const n = base.imbalance.seed;
  return [
    `Data: ${base.dataset}, ${base.imbalance.type} imbalance ratio ${base.imbalance.ratio}` +
      (limits.maxTrainPerClass
        ? `, at most ${limits.maxTrainPerClass} training images per class (n_max)`
        : '') +
      (limits.maxTestPerClass
        ? `, the first ${limits.maxTestPerClass} test images of each class`
        : ', the whole balanced test set') +
      '. No step selects on the test set.',
    settings.seeds === 1
      ? `Seeds: one; training seed ${base.seed}, imbalanced split drawn with seed ${n}.`
      : `Seeds: index i = 0..${settings.seeds - 1} trains with seed ${base.seed} + i on the imbalanced split drawn with seed ${n} + i.`,
    `Phase 1 (the same for every backbone): ResNet-${base.depth}, ${epochs(p1.epochs)}, batch ${p1.batch}, SGD lr ${p1.lr} ` +
      `(momentum 0.9, weight decay 2e-4), ${p1.warmupEpochs > 0 ? `linear warm-up over ${epochs(p1.warmupEpochs)}` : 'no warm-up'}` +
      (steps.length > 0 ? `, lr ${steps.join(', ')}` : '') +
      `; random crop (4-pixel padding) and horizontal flip; focal gamma ${p1.focalGamma}; drw switches its ` +
      `weights on at the first lr step. Each backbone is trained once per seed and shared by its samplers.`,
    `Phase 3 (the same for every sampler): a fresh ${'linear (cosine for ldam-drw)'} head on the frozen backbone's ` +
      `embeddings, ${epochs(p3.epochs)}, batch ${p3.batch}, SGD lr ${p3.lr}, warm-up over ` +
      `${epochs(Math.min(p3.warmupEpochs, p3.epochs - 1))}, loss ${settings.headLoss ?? "the backbone's phase-1 loss"}, ` +
      `no train rule; the last epoch is evaluated.`,
    `Samplers: k = ${base.kNeighbors ?? 'each method\u2019s default (EOS 10, SMOTE family and ADASYN 5)'}; ` +
      'eos-k5 and eos-k20 fix k; eos-half bounds the coefficient at 0.5; eos-reference-script-bug reproduces ' +
      "the published script's off-by-one partner choice.",
  ];
}
