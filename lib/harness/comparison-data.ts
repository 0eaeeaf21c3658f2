// The data of each seed of a comparison. The same steps as prepareData (lib/pipeline/prepare-data.ts), plus
// the data limits that keep small comparisons and tests short, and one load of the data set for all seeds:
// a comparison visits each seed once per phase-1 variant, and the seeded split is cheap to redo from memory.
import { channelStats } from '../data/channel-stats.js';
import { loadDataset, type TrainTest } from '../data/dataset.js';
import { classCounts, subsetDataset } from '../data/dataset-ops.js';
import { makeImbalanced } from '../data/imbalance.js';
import { indicesByClass } from '../data/seeded-shuffle.js';
import type { RunConfig } from '../pipeline/config.js';
import type { RunData } from '../pipeline/prepare-data.js';
import type { DataLimits } from './plan.js';

/** The first `perClass` rows of each class, kept in file order (a balanced test subset). */
function firstOfEachClass(data: TrainTest['test'], perClass: number) {
  const kept = indicesByClass(data.labels, data.classes).flatMap((rows) =>
    Array.from(rows.subarray(0, perClass)),
  );
  return subsetDataset(
    data,
    kept.sort((a, b) => a - b),
  );
}

export class ComparisonData {
  private loaded: Promise<TrainTest> | null = null;
  private readonly bySplitSeed = new Map<number, RunData>();

  constructor(private readonly limits: DataLimits) {}

  /** The run data for a unit's configuration (its split seed picks the imbalanced subset). */
  async forConfig(config: RunConfig): Promise<RunData> {
    const cached = this.bySplitSeed.get(config.imbalance.seed);
    if (cached) return cached;
    this.loaded ??= loadDataset(config.dataset, { dataDir: config.dataDir });
    const data = await this.loaded;
    const train = makeImbalanced(data.train, {
      ...config.imbalance,
      maxPerClass: this.limits.maxTrainPerClass,
    });
    const test =
      this.limits.maxTestPerClass !== undefined
        ? firstOfEachClass(data.test, this.limits.maxTestPerClass)
        : data.test;
    const runData: RunData = {
      train,
      validation: null,
      test,
      classes: train.classes,
      counts: classCounts(train.labels, train.classes),
      normalization: channelStats(train),
      classNames: data.train.classNames,
    };
    this.bySplitSeed.set(config.imbalance.seed, runData);
    return runData;
  }
}
