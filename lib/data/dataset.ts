// `loadDataset`, which picks the reader for a named data set (the Dataset type itself is in types.ts).
import { loadCifar10, loadCifar100 } from './cifar.js';
import { loadFashionMnist } from './fashion-mnist.js';
import type { NpyLayout } from './npy.js';
import { loadNpyDataset } from './npy-dataset.js';
import type { TrainTest } from './types.js';

export type { Dataset, TrainTest } from './types.js';

export const DATASET_NAMES = ['fashion-mnist', 'cifar10', 'cifar100', 'npy'] as const;
export type DatasetName = (typeof DATASET_NAMES)[number];

export interface LoadDatasetOptions {
  /**
   * Folder holding the files. Default for 'fashion-mnist': Debian's /usr/share/datasets/fashion-mnist.
   * Required for the others: 'cifar10' wants cifar-10-batches-bin/ (or its parent), 'cifar100'
   * cifar-100-binary/ (or its parent), 'npy' train_images.npy, train_labels.npy, test_images.npy, test_labels.npy.
   */
  dataDir?: string;
  /** 'cifar100' only: which labels to use, the 100 fine classes (default) or the 20 coarse superclasses. */
  cifar100Labels?: 'fine' | 'coarse';
  /** 'npy' only: image layout when it cannot be inferred (see npy-dataset.ts). */
  layout?: NpyLayout;
  /** 'npy' only: class count; default = largest label + 1 over train and test. */
  classes?: number;
}

export async function loadDataset(name: DatasetName, options: LoadDatasetOptions = {}): Promise<TrainTest> {
  const needDir = (): string => {
    if (options.dataDir === undefined) {
      throw new Error(
        `loadDataset('${name}'): this data set has no default location; pass dataDir (--data-dir)`,
      );
    }
    return options.dataDir;
  };
  switch (name) {
    case 'fashion-mnist':
      return loadFashionMnist(options.dataDir);
    case 'cifar10':
      return loadCifar10(needDir());
    case 'cifar100':
      return loadCifar100(needDir(), options.cifar100Labels ?? 'fine');
    case 'npy':
      return loadNpyDataset(needDir(), { layout: options.layout, classes: options.classes });
    default:
      throw new Error(
        `loadDataset: unknown data set '${String(name)}'; expected one of ${DATASET_NAMES.join(', ')}`,
      );
  }
}

export { checkDataset, classCounts, concatDatasets, subsetDataset } from './dataset-ops.js';
