// The data of each seed of a comparison: the pipeline's data step under the comparison's data limits, with
// one load of the data set for all seeds (a comparison visits each seed once per phase-1 variant, and the
// seeded split is cheap to redo from memory).
import type { TrainTest } from '../data/types.js';
import type { RunConfig } from '../pipeline/config.js';
import { loadRunDataset, splitRunData } from '../pipeline/prepare-data.js';
import type { RunData } from '../pipeline/types.js';
import type { DataLimits } from './plan.js';

export class ComparisonData {
  private loaded: Promise<TrainTest> | null = null;
  private readonly bySplitSeed = new Map<number, RunData>();

  constructor(private readonly limits: DataLimits) {}

  /** The run data for a unit's configuration (its split seed picks the imbalanced subset). */
  async forConfig(config: RunConfig<string>): Promise<RunData> {
    const cached = this.bySplitSeed.get(config.imbalance.seed);
    if (cached) return cached;
    this.loaded ??= loadRunDataset(config);
    const runData = splitRunData(config, await this.loaded, this.limits);
    this.bySplitSeed.set(config.imbalance.seed, runData);
    return runData;
  }
}
