// Accumulates synthetic rows and their provenance, then assembles the result: originals first, in order,
// then the synthetic rows in the order they were added.

import type { ResampleResult, SamplerFallback } from './types.js';

export class SyntheticRows {
  private rows: Float32Array;
  private labels: Int32Array;
  private bases: Int32Array;
  private partners: Int32Array;
  private coefficients: Float64Array;
  private count = 0;
  private readonly fallbacks: SamplerFallback[] = [];

  /** `expected`: the number of rows the strategy asks for; more may be added (ADASYN rounds up). */
  constructor(
    private readonly x: Float32Array,
    private readonly y: Int32Array,
    private readonly d: number,
    expected: number,
  ) {
    const capacity = Math.max(expected, 1);
    this.rows = new Float32Array(capacity * d);
    this.labels = new Int32Array(capacity);
    this.bases = new Int32Array(capacity);
    this.partners = new Int32Array(capacity);
    this.coefficients = new Float64Array(capacity);
  }

  get size(): number {
    return this.count;
  }

  /**
   * Adds x[base] + coefficient * (x[partner] - x[base]) with the given label. The difference is rounded to
   * float32 and the sum computed in double then rounded once, as imbalanced-learn computes
   * `X[rows] + steps * diffs` for float32 X.
   */
  add(label: number, base: number, partner: number, coefficient: number): void {
    if (this.count === this.labels.length) this.grow();
    const { x, d } = this;
    const out = this.count * d;
    const from = base * d;
    const to = partner * d;
    for (let j = 0; j < d; j++) {
      const diff = Math.fround(x[to + j] - x[from + j]);
      this.rows[out + j] = x[from + j] + coefficient * diff;
    }
    this.labels[this.count] = label;
    this.bases[this.count] = base;
    this.partners[this.count] = partner;
    this.coefficients[this.count] = coefficient;
    this.count++;
  }

  report(fallback: SamplerFallback): void {
    this.fallbacks.push(fallback);
  }

  finish(): ResampleResult {
    const { x, y, d, count } = this;
    const n = y.length;
    const outX = new Float32Array((n + count) * d);
    outX.set(x);
    outX.set(this.rows.subarray(0, count * d), n * d);
    const outY = new Int32Array(n + count);
    outY.set(y);
    outY.set(this.labels.subarray(0, count), n);
    return {
      x: outX,
      y: outY,
      d,
      provenance: {
        base: this.bases.slice(0, count),
        partner: this.partners.slice(0, count),
        coefficient: this.coefficients.slice(0, count),
      },
      fallbacks: this.fallbacks,
    };
  }

  private grow(): void {
    const capacity = this.labels.length * 2;
    const resize = <T extends Float32Array | Int32Array | Float64Array>(
      old: T,
      make: (n: number) => T,
      n: number,
    ) => {
      const bigger = make(n);
      bigger.set(old);
      return bigger;
    };
    this.rows = resize(this.rows, (n) => new Float32Array(n), capacity * this.d);
    this.labels = resize(this.labels, (n) => new Int32Array(n), capacity);
    this.bases = resize(this.bases, (n) => new Int32Array(n), capacity);
    this.partners = resize(this.partners, (n) => new Int32Array(n), capacity);
    this.coefficients = resize(this.coefficients, (n) => new Float64Array(n), capacity);
  }
}
