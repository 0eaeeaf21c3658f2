// The data step of a run: load the named data set, carve the seeded imbalanced training subset (minus an
// optional validation split), keep the test set (or, under data limits, its first images of each class), and
// compute the normalisation statistics of the training images. Loading and carving are separate so that a
// comparison loads the data set once and carves each seed's split from memory.
import { channelStats } from '../data/channel-stats.js';
import { type LoadDatasetOptions, loadDataset } from '../data/dataset.js';
import { classCounts, subsetDataset } from '../data/dataset-ops.js';
import type { FolderProgress } from '../data/folder-types.js';
import { makeImbalanced } from '../data/imbalance.js';
import { indicesByClass } from '../data/seeded-shuffle.js';
import type { Dataset, TrainTest } from '../data/types.js';
import { splitValidation } from '../data/validation-split.js';
import type { RunConfig } from './config.js';
import type { DataLimits, RunData } from './types.js';

export interface LoadRunDatasetOptions {
  /** Image folders: progress of reading the headers and decoding the images (nothing when the cache serves them). */
  onProgress?: (progress: FolderProgress) => void;
  /** Image folders: stops reading and decoding at the next file (the load rejects with an AbortError). */
  signal?: AbortSignal;
}

/** The loader options of a run: its data folder and, for image folders, the decoding options and the run's threads. */
export function runDatasetOptions(
  config: RunConfig<string>,
  options: LoadRunDatasetOptions = {},
): LoadDatasetOptions {
  if (config.dataset !== 'folder') return { dataDir: config.dataDir };
  return {
    dataDir: config.dataDir,
    ...config.folder,
    splitSeed: config.imbalance.seed,
    threads: config.threads > 0 ? config.threads : undefined,
    onProgress: options.onProgress,
    signal: options.signal,
  };
}

/** The data set of a run (for 'folder', a FolderTrainTest whose `skipped` lists the files left out). */
export function loadRunDataset(
  config: RunConfig<string>,
  options: LoadRunDatasetOptions = {},
): Promise<TrainTest> {
  return loadDataset(config.dataset, runDatasetOptions(config, options));
}

/** The first `perClass` rows of each class, kept in file order (a balanced test subset). */
function firstOfEachClass(data: Dataset, perClass: number): Dataset {
  const kept = indicesByClass(data.labels, data.classes).flatMap((rows) =>
    Array.from(rows.subarray(0, perClass)),
  );
  return subsetDataset(
    data,
    kept.sort((a, b) => a - b),
  );
}

/** The run data of `config` carved from the loaded data set, capped by `limits` when given. */
export function splitRunData(config: RunConfig<string>, data: TrainTest, limits?: DataLimits): RunData {
  const longTailed = makeImbalanced(
    data.train,
    limits ? { ...config.imbalance, maxPerClass: limits.maxTrainPerClass } : config.imbalance,
  );
  const split =
    config.validationFraction > 0
      ? splitValidation(longTailed, { fraction: config.validationFraction, seed: config.seed })
      : null;
  const train = split ? split.train : longTailed;
  const test =
    limits?.maxTestPerClass !== undefined ? firstOfEachClass(data.test, limits.maxTestPerClass) : data.test;
  return {
    train,
    validation: split?.validation ?? null,
    test,
    classes: train.classes,
    counts: classCounts(train.labels, train.classes),
    normalization: channelStats(train),
    classNames: data.train.classNames,
    skipped: data.skipped,
  };
}

export async function prepareData(
  config: RunConfig<string>,
  options: LoadRunDatasetOptions = {},
): Promise<RunData> {
  return splitRunData(config, await loadRunDataset(config, options));
}
