// Where the default data set lives: Debian's dataset-fashion-mnist package (IDX files, gzip).
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

export const FASHION_MNIST_FILES = {
  trainImages: 'train-images-idx3-ubyte.gz',
  trainLabels: 'train-labels-idx1-ubyte.gz',
  testImages: 't10k-images-idx3-ubyte.gz',
  testLabels: 't10k-labels-idx1-ubyte.gz',
} as const;

/** Files of the data set that are missing from `dir` (empty when it is installed). */
export function missingFashionMnistFiles(dir: string = FASHION_MNIST_DIR): string[] {
  return Object.values(FASHION_MNIST_FILES)
    .map((f) => join(dir, f))
    .filter((p) => !existsSync(p));
}
