// Input checks shared by the samplers. Every failure is an Error whose message starts with the name of the
// argument at fault, so a caller can tell which of x, y, d or an option to fix.

import { UndefinedOnDataError } from './undefined-on-data.js';

/** Rows of each class, found once per fitResample. */
export interface ClassIndex {
  /** Labels present, ascending. */
  labels: number[];
  /** label -> ascending indices of that class's rows. */
  members: Map<number, Int32Array>;
}

export function requireInteger(name: string, value: unknown, min: number, max = Infinity): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Infinity ? `>= ${min}` : `in [${min}, ${max}]`;
    throw new RangeError(`${name}: expected an integer ${range}, got ${String(value)}`);
  }
  return value;
}

/** Checks x (N x d float32, all finite), y (N int32 labels) and d; returns the rows of each class. */
export function validateInput(x: unknown, y: unknown, d: unknown): ClassIndex {
  if (!(x instanceof Float32Array)) throw new TypeError('x: expected a Float32Array (N x d, row-major)');
  if (!(y instanceof Int32Array)) throw new TypeError('y: expected an Int32Array of N labels');
  const width = requireInteger('d', d, 1);
  if (y.length === 0 || x.length === 0) {
    throw new RangeError(`x: empty input (x has ${x.length} values, y has ${y.length} labels)`);
  }
  if (x.length !== y.length * width) {
    throw new RangeError(
      `x: length ${x.length} does not match y (${y.length} labels) x d (${width}) = ${y.length * width}`,
    );
  }
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i])) {
      const row = Math.floor(i / width);
      throw new RangeError(`x: row ${row} has a non-finite value (${x[i]} at column ${i - row * width})`);
    }
  }
  return indexLabels(y);
}

/** The rows of each class of y; throws unless two classes or more are present. */
export function indexLabels(y: Int32Array): ClassIndex {
  const index = indexClasses(y);
  if (index.labels.length < 2) {
    throw new RangeError(
      `y: only one class (label ${index.labels[0]}) is present; over-sampling needs two or more`,
    );
  }
  return index;
}

function indexClasses(y: Int32Array): ClassIndex {
  const counts = new Map<number, number>();
  for (const label of y) counts.set(label, (counts.get(label) ?? 0) + 1);
  const labels = [...counts.keys()].sort((a, b) => a - b);
  const members = new Map<number, Int32Array>();
  const filled = new Map<number, number>();
  for (const label of labels) {
    members.set(label, new Int32Array(counts.get(label)!));
    filled.set(label, 0);
  }
  for (let row = 0; row < y.length; row++) {
    const label = y[row];
    const at = filled.get(label)!;
    members.get(label)![at] = row;
    filled.set(label, at + 1);
  }
  return { labels, members };
}

/** A neighbour count must leave at least one other row to find: 1 <= k <= N - 1. */
export function requireNeighbourCount(name: string, k: number, rows: number): void {
  if (k >= rows) {
    throw new UndefinedOnDataError(
      `${name}: ${k} neighbours need at least ${k + 1} rows, but the input has ${rows}`,
    );
  }
}

/** Each over-sampled class must hold k + 1 rows when neighbours are searched within the class. */
export function requireClassSize(
  name: string,
  method: string,
  label: number,
  has: number,
  needs: number,
): void {
  if (has < needs) {
    throw new UndefinedOnDataError(
      `${name}: class ${label} has ${has} samples; ${method} needs at least ${needs} (${name} + 1) to over-sample it`,
    );
  }
}
