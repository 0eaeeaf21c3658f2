// The schedule every method of a comparison shares, in words for the reports. The lr steps are those
// trainBackbone uses (scaledSchedule: the paper's x0.01 at 160/200 and x0.0001 at 180/200, scaled).
import { describeImbalance } from '../data/imbalance.js';
import { AUGMENTATION, K_NEIGHBORS } from '../defaults.js';
import { scaledSchedule } from '../train/lr-schedule.js';
import { ABLATION_KEYS, COMPARISON_METHOD_TABLE } from './methods.js';
import type { ComparisonSettings } from './plan.js';

export function phase1Steps(epochs: number): [number, number][] {
  return scaledSchedule(epochs).steps;
}

const epochs = (n: number) => `${n} epoch${n === 1 ? '' : 's'}`;

/** A hyperparameter as written by hand: the shorter of its decimal and exponent forms (2e-4, 0.9). */
export function formatHyperparameter(v: number): string {
  const decimal = String(v);
  const exponent = v.toExponential();
  return exponent.length < decimal.length ? exponent : decimal;
}

const sgd = (p: { momentum: number; weightDecay: number }) =>
  `momentum ${formatHyperparameter(p.momentum)}, weight decay ${formatHyperparameter(p.weightDecay)}`;

export function describeSchedule(settings: ComparisonSettings): string[] {
  const { base, limits } = settings;
  const p1 = base.phase1;
  const p3 = base.phase3;
  const steps = phase1Steps(p1.epochs)
    .filter(([epoch]) => epoch < p1.epochs)
    .map(([epoch, factor]) => `x${factor} from epoch ${epoch + 1}`);
  const n = base.imbalance.seed;
  // The EOS ablations planned, each with what its own options change (an ablation's own k overrides k).
  const planned = new Set([...settings.samplers, ...settings.otherSamplers]);
  const ablations = ABLATION_KEYS.filter((key) => planned.has(key));
  return [
    `Data: ${base.dataset}, ${describeImbalance(base.imbalance)}` +
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
      `(${sgd(p1)}), ${p1.warmupEpochs > 0 ? `linear warm-up over ${epochs(p1.warmupEpochs)}` : 'no warm-up'}` +
      (steps.length > 0 ? `, lr ${steps.join(', ')}` : '') +
      `; random crop (${AUGMENTATION.pad}-pixel padding) and horizontal flip; focal gamma ${p1.focalGamma}; drw switches its ` +
      `weights on at the first lr step. Each backbone is trained once per seed and shared by its samplers.`,
    `Phase 3 (the same for every sampler): a fresh ${'linear (cosine for ldam-drw)'} head on the frozen backbone's ` +
      `embeddings, ${epochs(p3.epochs)}, batch ${p3.batch}, SGD lr ${p3.lr} (${sgd(p3)}), warm-up over ` +
      `${epochs(Math.min(p3.warmupEpochs, p3.epochs - 1))}, loss ${settings.headLoss ?? "the backbone's phase-1 loss"}, ` +
      `no train rule; the last epoch is evaluated.`,
    `Samplers: k = ${base.kNeighbors ?? `each method\u2019s default (EOS ${K_NEIGHBORS.eos}, SMOTE family and ADASYN ${K_NEIGHBORS.smote})`}` +
      ablations.map((key) => `; ${key} ${COMPARISON_METHOD_TABLE[key].description}`).join('') +
      '.',
  ];
}
