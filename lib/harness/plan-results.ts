// Reading the unit results found so far by what a report asks of them: the finished phase-1 units of a
// backbone, the finished phase-2+3 units of a method on it, and balanced accuracy laid out by seed index.
import type { MethodKey } from './methods.js';
import type { Phase1Variant } from './phase1-variants.js';
import type { ComparisonPlan } from './plan.js';
import type { BackboneResult, SamplerResult, UnitResult } from './unit-results.js';

export interface PlanResults {
  /** The finished phase-1 units of a phase-1 variant, in seed order. */
  backbone(backbone: Phase1Variant): BackboneResult[];
  /** The finished phase-2+3 units of one method on a phase-1 variant, in seed order. */
  sampler(backbone: Phase1Variant, sampler: MethodKey): SamplerResult[];
  /** Every finished phase-1 unit, in plan order. */
  allBackbones(): BackboneResult[];
}

export function planResults(plan: ComparisonPlan, results: ReadonlyMap<string, UnitResult>): PlanResults {
  return {
    backbone: (b) =>
      plan.backbones
        .filter((p) => p.unit.backbone === b)
        .map((p) => results.get(p.unit.id) as BackboneResult | undefined)
        .filter((r): r is BackboneResult => r !== undefined),
    sampler: (b, s) =>
      plan.backbones
        .filter((p) => p.unit.backbone === b)
        .flatMap((p) => p.samplers.filter((u) => u.sampler === s))
        .map((u) => results.get(u.id) as SamplerResult | undefined)
        .filter((r): r is SamplerResult => r !== undefined),
    allBackbones: () =>
      plan.backbones
        .map((p) => results.get(p.unit.id) as BackboneResult | undefined)
        .filter((r): r is BackboneResult => r !== undefined),
  };
}

/** Balanced accuracy per seed index (null where that seed has not finished), for the paired comparisons. */
export function balancedAccuracyBySeed(
  seeds: number,
  done: readonly { seedIndex: number; test: UnitResult['test'] }[],
): (number | null)[] {
  const values: (number | null)[] = new Array(seeds).fill(null);
  for (const r of done) values[r.seedIndex] = r.test.balancedAccuracy;
  return values;
}
