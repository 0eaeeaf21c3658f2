// Data sets: readers (IDX, CIFAR binary, NPY), the in-memory Dataset, imbalanced and validation splits.
export { type ChannelStats, channelStats } from './channel-stats.js';
export {
  CIFAR10_CLASS_NAMES,
  type CifarBatchOptions,
  type CifarVariant,
  loadCifar10,
  loadCifar100,
  parseCifarBatch,
  readCifarBatch,
} from './cifar.js';
export {
  checkDataset,
  classCounts,
  concatDatasets,
  DATASET_NAMES,
  type DatasetName,
  type LoadDatasetOptions,
  loadDataset,
  subsetDataset,
} from './dataset.js';
export { type TrainTestSources, validateTrainTest } from './dataset-ops.js';
export { DataFileError } from './errors.js';
export { FASHION_MNIST_CLASS_NAMES, loadFashionMnist } from './fashion-mnist.js';
export { FASHION_MNIST_DIR, FASHION_MNIST_FILES, missingFashionMnistFiles } from './fashion-mnist-files.js';
export { describeSkipped } from './folder-bad-images.js';
export { checkFolderOptions, loadFolderDataset } from './folder-dataset.js';
export { IMAGE_EXTENSIONS } from './folder-scan.js';
export type {
  BadImage,
  FolderCacheInfo,
  FolderLayout,
  FolderOptions,
  FolderProgress,
  FolderTrainTest,
} from './folder-types.js';
export { type IdxImages, parseIdxImages, parseIdxLabels, readIdxImages, readIdxLabels } from './idx.js';
export {
  type ImbalancedDataset,
  type ImbalanceOptions,
  type ImbalanceType,
  imbalancedCounts,
  makeImbalanced,
} from './imbalance.js';
export {
  type NpyArray,
  type NpyDtype,
  type NpyImages,
  type NpyLayout,
  type NpyMatrix,
  npyToImages,
  npyToLabels,
  npyToMatrix,
  parseNpy,
  readNpy,
  readNpyImages,
  readNpyLabels,
  readNpyMatrix,
} from './npy.js';
export { loadNpyDataset, NPY_DATASET_FILES } from './npy-dataset.js';
export { encodeNpy, type NpyWritable, writeNpy } from './npy-write.js';
export type { Dataset, TrainTest } from './types.js';
export {
  type DatasetSplit,
  type IndexSplit,
  type SplitOptions,
  splitValidation,
  stratifiedSplitIndices,
} from './validation-split.js';
