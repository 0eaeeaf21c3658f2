// A train/test image data set stored as four NPY files in one folder:
//   train_images.npy  uint8, (N, H, W), (N, C, H, W) or (N, H, W, C)
//   train_labels.npy  uint8/int8/int32/int64, (N,)
//   test_images.npy, test_labels.npy  the same for the test set
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { validateTrainTest } from './dataset-ops.js';
import { type NpyLayout, readNpyImages, readNpyLabels } from './npy.js';
import type { Dataset, TrainTest } from './types.js';

export const NPY_DATASET_FILES = [
  'train_images.npy',
  'train_labels.npy',
  'test_images.npy',
  'test_labels.npy',
] as const;

export interface NpyDatasetOptions {
  /** Image layout when the shape does not tell (see npyToImages). */
  layout?: NpyLayout;
  /** Number of classes; default = largest label + 1 over train and test. */
  classes?: number;
}

async function loadPart(dir: string, part: 'train' | 'test', options: NpyDatasetOptions): Promise<Dataset> {
  const imagesPath = join(dir, `${part}_images.npy`);
  const labelsPath = join(dir, `${part}_labels.npy`);
  const { images, shape } = await readNpyImages(imagesPath, options.layout);
  const labels = await readNpyLabels(labelsPath, options.classes);
  if (labels.length !== shape[0]) {
    throw new Error(`${labelsPath}: ${labels.length} labels, but ${imagesPath} holds ${shape[0]} images`);
  }
  return { images, labels, shape, classes: options.classes ?? 0 };
}

export async function loadNpyDataset(dir: string, options: NpyDatasetOptions = {}): Promise<TrainTest> {
  const missing = NPY_DATASET_FILES.filter((f) => !existsSync(join(dir, f)));
  if (missing.length > 0) {
    throw new Error(
      `${dir}: an npy data set needs ${NPY_DATASET_FILES.join(', ')}; missing: ${missing.join(', ')}`,
    );
  }
  if (options.classes !== undefined && (!Number.isInteger(options.classes) || options.classes < 1)) {
    throw new RangeError(`classes: expected a positive integer, got ${String(options.classes)}`);
  }
  const train = await loadPart(dir, 'train', options);
  const test = await loadPart(dir, 'test', options);
  if (train.shape.slice(1).join() !== test.shape.slice(1).join()) {
    throw new Error(
      `${dir}: train images are ${train.shape.slice(1).join(' x ')} (C x H x W), test images ${test.shape.slice(1).join(' x ')}`,
    );
  }
  if (options.classes === undefined) {
    let largest = 0;
    for (const labels of [train.labels, test.labels]) for (const l of labels) largest = Math.max(largest, l);
    train.classes = test.classes = largest + 1;
  }
  validateTrainTest(
    { train, test },
    { train: join(dir, 'train_labels.npy'), test: join(dir, 'test_labels.npy') },
  );
  return { train, test };
}
