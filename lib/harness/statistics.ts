// Mean and spread over seeds. Values that are not finite numbers (NaN turns into null in JSON) are left out
// and counted out: a class with no test images must not turn a whole row into NaN.

export interface SeedStat {
  /** Mean of the finite values; null when there are none. */
  mean: number | null;
  /** Sample standard deviation (divisor n - 1) of the finite values; null when fewer than two. */
  std: number | null;
  /** How many finite values went in. */
  n: number;
  /** The values, in seed order (null where a seed's value was not finite). */
  values: (number | null)[];
}

const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

export function seedStat(values: readonly (number | null | undefined)[]): SeedStat {
  const finite = values.filter(isFiniteNumber);
  const n = finite.length;
  const mean = n > 0 ? finite.reduce((a, b) => a + b, 0) / n : null;
  const std =
    n > 1 && mean !== null ? Math.sqrt(finite.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : null;
  return { mean, std, n, values: values.map((v) => (isFiniteNumber(v) ? v : null)) };
}

/** Element-wise mean of equally long vectors (finite entries only; null where none is finite). */
export function meanVector(vectors: readonly (readonly (number | null)[])[]): (number | null)[] {
  const length = vectors.reduce((m, v) => Math.max(m, v.length), 0);
  return Array.from({ length }, (_, i) => seedStat(vectors.map((v) => v[i])).mean);
}

// Two-sided 5% critical values of Student's t for 1..30 degrees of freedom; above 30 the value for 30 is
// used (slightly conservative).
const T_CRITICAL_5 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131,
  2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/** The two-sided 5% critical value of Student's t with `df` >= 1 degrees of freedom. */
export function tCritical5(df: number): number {
  if (!Number.isInteger(df) || df < 1) throw new RangeError(`df must be an integer >= 1, got ${df}`);
  return T_CRITICAL_5[Math.min(df, T_CRITICAL_5.length) - 1];
}

export interface PairedDifference {
  /** a[i] - b[i], in seed order; null (and left out of mean and std) where either is not a finite number. */
  difference: SeedStat;
  /** Seeds where a > b. */
  wins: number;
  /** Paired t statistic mean / (std / sqrt(n)); null with fewer than two pairs, +-Infinity when std is 0. */
  t: number | null;
  /** The two-sided paired t-test rejects "no difference" at 5%; null with fewer than two pairs. */
  significant: boolean | null;
}

/**
 * Compares two methods seed by seed. Both see the same split and backbone per seed, so the paired difference
 * removes the seed-to-seed spread the two share; that is the spread that matters for "is A better than B".
 */
export function pairedDifference(
  a: readonly (number | null | undefined)[],
  b: readonly (number | null | undefined)[],
): PairedDifference {
  const diffs = Array.from({ length: Math.max(a.length, b.length) }, (_, i) => {
    const x = a[i];
    const y = b[i];
    return isFiniteNumber(x) && isFiniteNumber(y) ? x - y : null;
  });
  const difference = seedStat(diffs);
  const wins = diffs.filter((d) => d !== null && d > 0).length;
  if (difference.n < 2 || difference.mean === null || difference.std === null) {
    return { difference, wins, t: null, significant: null };
  }
  const standardError = difference.std / Math.sqrt(difference.n);
  const t =
    standardError === 0
      ? difference.mean === 0
        ? 0
        : Math.sign(difference.mean) * Number.POSITIVE_INFINITY
      : difference.mean / standardError;
  return { difference, wins, t, significant: Math.abs(t) > tCritical5(difference.n - 1) };
}
