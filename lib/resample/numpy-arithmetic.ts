// Two pieces of numpy's float64 arithmetic, reproduced so that quantities imbalanced-learn derives
// deterministically from the neighbours (ADASYN's per-row counts) come out identical to the last bit:
// a rounding that lands on x.5 decides whether a row gets one more synthetic sample.

/**
 * np.sum of a contiguous float64 vector: numpy's pairwise summation (umath loops_utils: blocks of 8
 * partial sums up to 128 elements, recursive halving above). A plain left-to-right sum differs in the last
 * bits on most inputs longer than 8.
 */
export function numpySum(values: Float64Array): number {
  return pairwiseSum(values, 0, values.length);
}

function pairwiseSum(a: Float64Array, start: number, n: number): number {
  if (n < 8) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += a[start + i];
    return sum;
  }
  if (n <= 128) {
    const partial = Array.from(a.subarray(start, start + 8));
    let i = 8;
    for (; i < n - (n % 8); i += 8) {
      for (let j = 0; j < 8; j++) partial[j] += a[start + i + j];
    }
    // The exact grouping numpy uses: ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7)).
    const low = partial[0] + partial[1] + (partial[2] + partial[3]);
    const high = partial[4] + partial[5] + (partial[6] + partial[7]);
    let sum = low + high;
    for (; i < n; i++) sum += a[start + i];
    return sum;
  }
  let half = Math.floor(n / 2);
  half -= half % 8;
  return pairwiseSum(a, start, half) + pairwiseSum(a, start + half, n - half);
}

/** np.rint: round to the nearest integer, halves to even. */
export function roundHalfToEven(value: number): number {
  const floor = Math.floor(value);
  const fraction = value - floor; // exact for doubles of moderate size
  if (fraction < 0.5) return floor;
  if (fraction > 0.5) return floor + 1;
  return floor % 2 === 0 ? floor : floor + 1;
}
