// The data of a run: the imbalanced training subset (minus an optional validation split), the untouched test
// set, and the normalisation statistics of the training images.
import type { ChannelStats } from '../data/channel-stats.js';
import { channelStats } from '../data/channel-stats.js';
import { type Dataset, loadDataset } from '../data/dataset.js';
import { classCounts } from '../data/dataset-ops.js';
import { makeImbalanced } from '../data/imbalance.js';
import { splitValidation } from '../data/validation-split.js';
import { ResNet } from '../model/resnet.js';
import type { RunConfig } from './config.js';

export interface RunData {
  train: Dataset;
  validation: Dataset | null;
  test: Dataset;
  classes: number;
  counts: number[];
  normalization: ChannelStats;
  classNames?: string[];
}

export async function prepareData(config: RunConfig): Promise<RunData> {
  const data = await loadDataset(config.dataset, { dataDir: config.dataDir });
  const longTailed = makeImbalanced(data.train, config.imbalance);
  const split =
    config.validationFraction > 0
      ? splitValidation(longTailed, { fraction: config.validationFraction, seed: config.seed })
      : null;
  const train = split ? split.train : longTailed;
  return {
    train,
    validation: split?.validation ?? null,
    test: data.test,
    classes: train.classes,
    counts: classCounts(train.labels, train.classes),
    normalization: channelStats(train),
    classNames: data.train.classNames,
  };
}

/** A fresh phase-1 model for the run (LDAM trains a cosine-normalised head). */
export function createModel(config: RunConfig, data: RunData): ResNet {
  const [, inChannels, inputSize] = data.train.shape;
  return ResNet.create({
    depth: config.depth,
    inChannels,
    inputSize,
    classes: data.classes,
    head: config.phase1.loss === 'ldam' ? 'cosine' : 'linear',
    seed: config.seed,
    backend: config.backend,
    threads: config.threads,
    normalization: data.normalization,
  });
}
