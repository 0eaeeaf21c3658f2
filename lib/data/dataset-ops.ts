// Operations on in-memory Datasets: consistency checks, class counts, row subsets, concatenation.
import { DataFileError } from './errors.js';
import type { Dataset, TrainTest } from './types.js';

/**
 * Checks that a Dataset is internally consistent: shape positive integers, image and label lengths agree
 * with it, labels in [0, classes), classNames (when given) one per class. `name` prefixes messages.
 */
export function checkDataset(data: Dataset, name = 'data'): void {
  const { shape, images, labels, classes } = data;
  if (shape.length !== 4 || !shape.every((s) => Number.isInteger(s) && s > 0)) {
    throw new RangeError(
      `${name}.shape: expected four positive integers [N, C, H, W], got [${shape.join(', ')}]`,
    );
  }
  const [n, c, h, w] = shape;
  if (images.length !== n * c * h * w) {
    throw new RangeError(
      `${name}.images: expected ${n * c * h * w} bytes for shape [${shape.join(', ')}], got ${images.length}`,
    );
  }
  if (labels.length !== n) throw new RangeError(`${name}.labels: expected ${n} labels, got ${labels.length}`);
  if (!Number.isInteger(classes) || classes < 1) {
    throw new RangeError(`${name}.classes: expected a positive integer, got ${String(classes)}`);
  }
  for (let i = 0; i < n; i++) {
    if (labels[i] < 0 || labels[i] >= classes) {
      throw new RangeError(`${name}.labels[${i}] = ${labels[i]} is outside [0, ${classes})`);
    }
  }
  if (data.classNames !== undefined && data.classNames.length !== classes) {
    throw new RangeError(`${name}.classNames: expected ${classes} names, got ${data.classNames.length}`);
  }
}

/** The files a train/test pair was read from, for messages ("dir/train_labels.npy"). */
export interface TrainTestSources {
  train: string;
  test: string;
}

/**
 * Checks a freshly loaded train/test pair against what every later step assumes, so a bad data set is refused
 * when it is read rather than epochs later: each part consistent (checkDataset), the same image shape and
 * class count in both, labels 0..classes-1 with every class present in the training set, and no test label
 * the training set lacks. A test set may lack classes (its per-class scores then say so).
 */
export function validateTrainTest(data: TrainTest, sources: TrainTestSources): void {
  const { train, test } = data;
  checkDataset(train, sources.train);
  checkDataset(test, sources.test);
  if (train.shape.slice(1).join() !== test.shape.slice(1).join()) {
    throw new DataFileError(
      sources.test,
      `test images are ${test.shape.slice(1).join(' x ')} (C x H x W), but the training images ` +
        `(${sources.train}) are ${train.shape.slice(1).join(' x ')}`,
    );
  }
  if (train.classes !== test.classes) {
    throw new DataFileError(
      sources.test,
      `test labels are for ${test.classes} classes, the training labels (${sources.train}) for ${train.classes}`,
    );
  }
  // A Set, not classCounts: a corrupt label file can make `classes` huge, and the loop below ends within
  // (number of distinct labels + 5) steps whatever `classes` is.
  const present = new Set(train.labels);
  let trainMax = -1;
  for (const label of present) trainMax = Math.max(trainMax, label);
  let testMax = -1;
  for (const label of test.labels) testMax = Math.max(testMax, label);
  if (testMax > trainMax) {
    throw new DataFileError(
      sources.test,
      `test labels include class ${testMax}, but the training labels (${sources.train}) only go up to ${trainMax}`,
    );
  }
  const absent: number[] = [];
  for (let c = 0; c < train.classes && absent.length < 6; c++) if (!present.has(c)) absent.push(c);
  if (absent.length > 0) {
    const list = absent.length > 5 ? `${absent.slice(0, 5).join(', ')}, ...` : absent.join(', ');
    throw new DataFileError(
      sources.train,
      `training labels have no images of class${absent.length > 1 ? 'es' : ''} ${list} ` +
        `(labels must be 0..${train.classes - 1} with every class present)`,
    );
  }
  if (train.classes < 2) {
    throw new DataFileError(
      sources.train,
      'training labels are all 0: a classifier needs at least 2 classes',
    );
  }
}

/** Images per class (length `classes`). */
export function classCounts(labels: Int32Array, classes: number): number[] {
  const counts = new Array<number>(classes).fill(0);
  for (let i = 0; i < labels.length; i++) counts[labels[i]]++;
  return counts;
}

/** The rows `indices` of a data set, in that order, as a new Dataset (images copied). */
export function subsetDataset(data: Dataset, indices: ArrayLike<number>): Dataset {
  const [n, c, h, w] = data.shape;
  const size = c * h * w;
  const images = new Uint8Array(indices.length * size);
  const labels = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const row = indices[i];
    if (!Number.isInteger(row) || row < 0 || row >= n) {
      throw new RangeError(`indices[${i}] = ${row} is outside [0, ${n})`);
    }
    images.set(data.images.subarray(row * size, row * size + size), i * size);
    labels[i] = data.labels[row];
  }
  const subset: Dataset = { images, labels, shape: [indices.length, c, h, w], classes: data.classes };
  if (data.classNames !== undefined) subset.classNames = data.classNames;
  return subset;
}

/** Joins data sets with the same image shape and classes (e.g. the five CIFAR-10 training batches). */
export function concatDatasets(parts: Dataset[]): Dataset {
  if (parts.length === 0) throw new RangeError('concatDatasets: no data sets given');
  const [, c, h, w] = parts[0].shape;
  const n = parts.reduce((sum, p) => sum + p.shape[0], 0);
  const images = new Uint8Array(n * c * h * w);
  const labels = new Int32Array(n);
  let row = 0;
  for (const [i, p] of parts.entries()) {
    if (p.shape[1] !== c || p.shape[2] !== h || p.shape[3] !== w || p.classes !== parts[0].classes) {
      throw new RangeError(
        `concatDatasets: part ${i} has shape [${p.shape.join(', ')}] and ${p.classes} classes, part 0 has ` +
          `[${parts[0].shape.join(', ')}] and ${parts[0].classes}`,
      );
    }
    images.set(p.images, row * c * h * w);
    labels.set(p.labels, row);
    row += p.shape[0];
  }
  const joined: Dataset = { images, labels, shape: [n, c, h, w], classes: parts[0].classes };
  if (parts[0].classNames !== undefined) joined.classNames = parts[0].classNames;
  return joined;
}
