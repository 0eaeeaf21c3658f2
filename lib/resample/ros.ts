// Random over-sampling: duplicate rows of each class drawn uniformly with replacement
// (imbalanced-learn's RandomOverSampler without shrinkage).

import { OverSampler, type ResampleJob } from './sampler.js';
import type { SamplerOptions } from './types.js';

export type ROSOptions = SamplerOptions;

export class ROS extends OverSampler {
  protected checkRequirements(): void {
    // Any class with at least one row can be duplicated.
  }

  protected async generate({ classes, wanted, rng, out }: ResampleJob): Promise<void> {
    for (const [label, count] of wanted) {
      const members = classes.members.get(label)!;
      for (let i = 0; i < count; i++) {
        const row = members[rng.below(members.length)];
        // A copy is the segment's start: partner = base, coefficient 0.
        out.add(label, row, row, 0);
      }
    }
  }
}
