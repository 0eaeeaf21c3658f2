// The in-memory Dataset: Fashion-MNIST from Debian's package, channel statistics, subsets and checks.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { channelStats } from '../lib/data/channel-stats.js';
import {
  checkDataset,
  classCounts,
  concatDatasets,
  type Dataset,
  loadDataset,
  subsetDataset,
} from '../lib/data/dataset.js';
import { FASHION_MNIST_CLASS_NAMES } from '../lib/data/fashion-mnist.js';
import { missingFashionMnistFiles } from '../lib/data/fashion-mnist-files.js';

test('Fashion-MNIST loads from /usr/share/datasets/fashion-mnist: 60000 + 10000 images, 1 x 28 x 28, 10 classes', async (t) => {
  t.deepEqual(
    missingFashionMnistFiles(),
    [],
    'the Debian package dataset-fashion-mnist must be installed (npm test installs it)',
  );
  const { train, test: testSet } = await loadDataset('fashion-mnist');
  t.deepEqual(train.shape, [60000, 1, 28, 28]);
  t.deepEqual(testSet.shape, [10000, 1, 28, 28]);
  t.is(train.images.length, 60000 * 784);
  t.is(train.classes, 10);
  t.deepEqual(classCounts(train.labels, 10), new Array(10).fill(6000));
  t.deepEqual(classCounts(testSet.labels, 10), new Array(10).fill(1000));
  t.deepEqual(train.classNames, FASHION_MNIST_CLASS_NAMES);
  checkDataset(train, 'train');
  // The published first labels (train: Ankle boot, T-shirt, T-shirt, Dress; test: Ankle boot, Pullover, Trouser).
  t.deepEqual(Array.from(train.labels.subarray(0, 4)), [9, 0, 0, 3]);
  t.deepEqual(Array.from(testSet.labels.subarray(0, 3)), [9, 2, 1]);
  // The normalisation constants every Fashion-MNIST recipe quotes: mean 0.2860, std 0.3530.
  const stats = channelStats(train);
  t.true(Math.abs(stats.mean[0] - 0.286) < 5e-4, `mean ${stats.mean[0]}`);
  t.true(Math.abs(stats.std[0] - 0.353) < 5e-4, `std ${stats.std[0]}`);
});

test('a folder without the Fashion-MNIST files says which file is missing', async (t) => {
  const empty = mkdtempSync(join(tmpdir(), 'eos-fm-'));
  try {
    await t.throwsAsync(loadDataset('fashion-mnist', { dataDir: empty }), {
      message: /Fashion-MNIST: .*train-images-idx3-ubyte\.gz not found \(nor .*train-images-idx3-ubyte\)$/,
    });
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
  await t.throwsAsync(loadDataset('mnist' as never), {
    message: /unknown data set 'mnist'; expected one of fashion-mnist, cifar10/,
  });
});

/** Two images, two channels, 1 x 2 pixels: channel 0 = [0, 255 | 51, 51], channel 1 = [255, 255 | 0, 0]. */
const tiny: Dataset = {
  images: Uint8Array.from([0, 255, 255, 255, 51, 51, 0, 0]),
  labels: Int32Array.from([1, 0]),
  shape: [2, 2, 1, 2],
  classes: 2,
};

test('channelStats gives the mean and population std of pixel/255 per channel', (t) => {
  const { mean, std } = channelStats(tiny);
  // channel 0: values 0, 1, 0.2, 0.2 -> mean 0.35, variance (0.1225 + 0.4225 + 0.0225 * 2) / 4 = 0.1475
  t.true(Math.abs(mean[0] - 0.35) < 1e-15);
  t.true(Math.abs(std[0] - Math.sqrt(0.1475)) < 1e-15);
  t.is(mean[1], 0.5);
  t.is(std[1], 0.5);
  t.throws(() => channelStats({ images: new Uint8Array(3), shape: [1, 1, 2, 2] }), {
    message: /expected 4 bytes/,
  });
});

test('subsetDataset and concatDatasets copy the right rows; checkDataset names what is inconsistent', (t) => {
  const swapped = subsetDataset(tiny, [1, 0, 1]);
  t.deepEqual(swapped.shape, [3, 2, 1, 2]);
  t.deepEqual(Array.from(swapped.labels), [0, 1, 0]);
  t.deepEqual(Array.from(swapped.images.subarray(0, 4)), [51, 51, 0, 0]);
  t.throws(() => subsetDataset(tiny, [2]), { message: 'indices[0] = 2 is outside [0, 2)' });
  const joined = concatDatasets([tiny, swapped]);
  t.deepEqual(joined.shape, [5, 2, 1, 2]);
  t.deepEqual(Array.from(joined.labels), [1, 0, 0, 1, 0]);
  t.throws(() => concatDatasets([tiny, { ...tiny, classes: 3 }]), {
    message: /part 1 has shape \[2, 2, 1, 2\] and 3 classes/,
  });

  t.throws(() => checkDataset({ ...tiny, labels: Int32Array.from([0, 2]) }, 'train'), {
    message: 'train.labels[1] = 2 is outside [0, 2)',
  });
  t.throws(() => checkDataset({ ...tiny, images: new Uint8Array(7) }), {
    message: /data\.images: expected 8 bytes/,
  });
  t.throws(() => checkDataset({ ...tiny, classNames: ['a'] }), {
    message: 'data.classNames: expected 2 names, got 1',
  });
});
