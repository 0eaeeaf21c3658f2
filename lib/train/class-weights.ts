// Per-class loss weights of the cost-sensitive baselines (Cui et al. 2019, "class-balanced loss").
//
// w_c = (1 - b) / (1 - b^n_c) with b = 0.9999 (the "effective number of samples"), normalised to sum to C.
// `reweight` uses them from the start; `drw` (deferred re-weighting, Cao et al. 2019) uses uniform weights
// until the epoch where the learning rate first drops (160 of 200), then these.

export const EFFECTIVE_NUMBER_BETA = 0.9999;

export function effectiveNumberWeights(
  classCounts: ArrayLike<number>,
  beta = EFFECTIVE_NUMBER_BETA,
): Float32Array {
  const C = classCounts.length;
  const raw = Array.from(classCounts, (n) => {
    if (!(n > 0)) throw new RangeError(`class counts must be > 0 to weight them, got ${n}`);
    return (1 - beta) / (1 - beta ** n);
  });
  const sum = raw.reduce((a, b) => a + b, 0);
  return Float32Array.from(raw, (w) => (w / sum) * C);
}

export type TrainRule = 'none' | 'reweight' | 'drw' | 'resample';

/** The class weights of 0-based `epoch`, or undefined for an unweighted loss. */
export function classWeightsAt(
  rule: TrainRule,
  epoch: number,
  classCounts: ArrayLike<number>,
  drwEpoch: number,
): Float32Array | undefined {
  if (rule === 'reweight') return effectiveNumberWeights(classCounts);
  if (rule === 'drw' && epoch >= drwEpoch) return effectiveNumberWeights(classCounts);
  return undefined;
}
