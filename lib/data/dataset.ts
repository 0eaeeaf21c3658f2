// `loadDataset`, which picks the reader for a named data set (the Dataset type itself is in types.ts).
import { loadCifar10, loadCifar100 } from './cifar.js';
import { loadFashionMnist } from './fashion-mnist.js';
import { loadFolderDataset } from './folder-dataset.js';
import type { FolderOptions } from './folder-types.js';
import type { NpyLayout } from './npy.js';
import { loadNpyDataset } from './npy-dataset.js';
import type { TrainTest } from './types.js';

export type { Dataset, TrainTest } from './types.js';

export const DATASET_NAMES = ['fashion-mnist', 'cifar10', 'cifar100', 'npy', 'folder'] as const;
export type DatasetName = (typeof DATASET_NAMES)[number];

/**
 * The 'folder' options (see lib/data/folder-types.ts): imageSize, channels, testFraction, splitSeed,
 * skipBadImages, threads, cacheDir, onProgress. loadDataset('folder') returns a FolderTrainTest, whose
 * `skipped` lists the files skipBadImages left out.
 */
export interface LoadDatasetOptions extends FolderOptions {
  /**
   * Folder holding the files. Default for 'fashion-mnist': Debian's /usr/share/datasets/fashion-mnist.
   * Required for the others: 'cifar10' wants cifar-10-batches-bin/ (or its parent), 'cifar100'
   * cifar-100-binary/ (or its parent), 'npy' train_images.npy, train_labels.npy, test_images.npy, test_labels.npy,
   * 'folder' DIR/train/<class>/*.png|jpg|jpeg|webp and DIR/test/<class>/..., or a single DIR/<class>/ tree.
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
  // An option of the image reader given for another data set would silently do nothing.
  const folderOnly = (['imageSize', 'channels', 'testFraction', 'skipBadImages'] as const).filter(
    (k) => options[k] !== undefined,
  );
  if (name !== 'folder' && folderOnly.length > 0) {
    throw new Error(
      `loadDataset('${name}'): ${folderOnly.join(', ')} apply to image folders only (dataset 'folder')`,
    );
  }
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
    case 'folder':
      return loadFolderDataset(needDir(), options);
    default:
      throw new Error(
        `loadDataset: unknown data set '${String(name)}'; expected one of ${DATASET_NAMES.join(', ')}`,
      );
  }
}

export { checkDataset, classCounts, concatDatasets, subsetDataset } from './dataset-ops.js';
