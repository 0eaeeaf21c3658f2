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
