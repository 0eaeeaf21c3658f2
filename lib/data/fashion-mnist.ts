// Fashion-MNIST (Xiao et al. 2017) from IDX files: the default data set, 60000 train and 10000 test images,
// 1 x 28 x 28, 10 classes. Debian's dataset-fashion-mnist installs it gzipped; a folder of the decompressed
// files (same names without .gz) works too.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { validateTrainTest } from './dataset-ops.js';
import { FASHION_MNIST_DIR, FASHION_MNIST_FILES } from './fashion-mnist-files.js';
import { readIdxImages, readIdxLabels } from './idx.js';
import type { Dataset, TrainTest } from './types.js';

export const FASHION_MNIST_CLASS_NAMES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];

/** `dir/name`, or `dir/name` without its .gz suffix when only the decompressed file is there. */
function locate(dir: string, name: string): string {
  const gz = join(dir, name);
  if (existsSync(gz)) return gz;
  const raw = join(dir, name.replace(/\.gz$/, ''));
  if (existsSync(raw)) return raw;
  const hint = dir === FASHION_MNIST_DIR ? ' (install it: apt-get install dataset-fashion-mnist)' : '';
  throw new Error(`Fashion-MNIST: ${gz} not found (nor ${raw})${hint}`);
}

/** Images and labels of one split, checked to agree in count. */
export async function loadIdxPair(imagesPath: string, labelsPath: string, classes: number): Promise<Dataset> {
  const { images, shape } = await readIdxImages(imagesPath);
  const labels = await readIdxLabels(labelsPath, classes);
  if (labels.length !== shape[0]) {
    throw new Error(`${labelsPath}: ${labels.length} labels, but ${imagesPath} holds ${shape[0]} images`);
  }
  return { images, labels, shape, classes };
}

export async function loadFashionMnist(dir: string = FASHION_MNIST_DIR): Promise<TrainTest> {
  const f = FASHION_MNIST_FILES;
  const [trainImages, trainLabels, testImages, testLabels] = [
    f.trainImages,
    f.trainLabels,
    f.testImages,
    f.testLabels,
  ].map((name) => locate(dir, name));
  const train = await loadIdxPair(trainImages, trainLabels, 10);
  const test = await loadIdxPair(testImages, testLabels, 10);
  validateTrainTest({ train, test }, { train: trainLabels, test: testLabels });
  train.classNames = FASHION_MNIST_CLASS_NAMES;
  test.classNames = FASHION_MNIST_CLASS_NAMES;
  return { train, test };
}
