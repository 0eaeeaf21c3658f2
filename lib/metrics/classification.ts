// Classification metrics from true and predicted labels, defined to equal scikit-learn 1.2 and
// imbalanced-learn 0.10 as the reference code calls them (labels=None, zero_division=0):
//
//   confusion[t][p]   count of samples with true label t predicted as p (C x C, every class)
//   recall_c          tp_c / support_c            (0 when support_c = 0, sklearn's zero_division=0)
//   precision_c       tp_c / predicted_c          (0 when predicted_c = 0)
//   f1_c              2 P R / (P + R)             (0 when P + R = 0)
//   specificity_c     tn_c / (tn_c + fp_c)        (0 when tn_c + fp_c = 0), tn_c = N - support_c - predicted_c + tp_c
//   accuracy          sum_c tp_c / N
//   balancedAccuracy  mean of recall_c over classes with support > 0 (sklearn drops the others)
//   macroPrecision, macroRecall, macroF1   mean over the "present" classes: those that occur in y_true or
//                     y_pred (sklearn's labels=None); a class absent from both does not drag the mean down
//   gm                geometric mean of recall_c over classes with support > 0, exp(mean(log recall_c));
//                     0 as soon as one such class has recall 0 (imblearn's geometric_mean_score with its
//                     default average='multiclass', correction=0, labels = the classes in y_true)
//   gmMacro           sqrt(mean recall_c * mean specificity_c), both means over the present classes
//                     (imblearn's geometric_mean_score(average='macro'), what the reference code reports)
//   perClassAccuracy  recall_c for every class (0 for a class with no support; check `support`)
//
// With every class present in y_true (a balanced test set) all the "over which classes" choices coincide.

export interface ClassificationMetrics {
  classes: number;
  samples: number;
  accuracy: number;
  balancedAccuracy: number;
  macroPrecision: number;
  macroRecall: number;
  macroF1: number;
  gm: number;
  gmMacro: number;
  /** recall per class (length `classes`). */
  perClassAccuracy: number[];
  perClass: {
    precision: number[];
    recall: number[];
    f1: number[];
    specificity: number[];
    /** true samples per class */
    support: number[];
    /** predictions per class */
    predicted: number[];
  };
  /** confusion[trueClass][predictedClass] */
  confusion: number[][];
}

function checkLabels(name: string, labels: ArrayLike<number>, classes: number): void {
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    if (!Number.isInteger(l) || l < 0 || l >= classes) {
      throw new RangeError(`${name}[${i}] = ${l} is not a class index in [0, ${classes})`);
    }
  }
}

const safeDivide = (numerator: number, denominator: number): number =>
  denominator === 0 ? 0 : numerator / denominator;

function mean(values: number[]): number {
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

export function classificationMetrics(
  yTrue: ArrayLike<number>,
  yPred: ArrayLike<number>,
  classes: number,
): ClassificationMetrics {
  if (!Number.isInteger(classes) || classes < 1) {
    throw new RangeError(`classes: expected a positive integer, got ${String(classes)}`);
  }
  if (yTrue.length !== yPred.length) {
    throw new RangeError(
      `yPred: expected ${yTrue.length} predictions (one per true label), got ${yPred.length}`,
    );
  }
  if (yTrue.length === 0) throw new RangeError('yTrue: no samples to score');
  checkLabels('yTrue', yTrue, classes);
  checkLabels('yPred', yPred, classes);

  const n = yTrue.length;
  const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  for (let i = 0; i < n; i++) confusion[yTrue[i]][yPred[i]]++;

  const support = confusion.map((row) => row.reduce((a, b) => a + b, 0));
  const predicted = confusion[0].map((_, p) => confusion.reduce((sum, row) => sum + row[p], 0));
  const tp = confusion.map((row, c) => row[c]);

  const recall = tp.map((t, c) => safeDivide(t, support[c]));
  const precision = tp.map((t, c) => safeDivide(t, predicted[c]));
  const f1 = recall.map((r, c) => safeDivide(2 * precision[c] * r, precision[c] + r));
  const specificity = tp.map((t, c) => {
    const tn = n - support[c] - predicted[c] + t;
    const fp = predicted[c] - t;
    return safeDivide(tn, tn + fp);
  });

  const allClasses = [...Array(classes).keys()];
  const present = allClasses.filter((c) => support[c] > 0 || predicted[c] > 0);
  const supported = allClasses.filter((c) => support[c] > 0);
  const pick = (values: number[], which: number[]) => which.map((c) => values[c]);

  const supportedRecall = pick(recall, supported);
  const gm = Math.exp(mean(supportedRecall.map((r) => Math.log(r))));

  return {
    classes,
    samples: n,
    accuracy: tp.reduce((a, b) => a + b, 0) / n,
    balancedAccuracy: mean(supportedRecall),
    macroPrecision: mean(pick(precision, present)),
    macroRecall: mean(pick(recall, present)),
    macroF1: mean(pick(f1, present)),
    gm,
    gmMacro: Math.sqrt(mean(pick(recall, present)) * mean(pick(specificity, present))),
    perClassAccuracy: recall.slice(),
    perClass: { precision, recall, f1, specificity, support, predicted },
    confusion,
  };
}
