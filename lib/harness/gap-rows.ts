// The generalization gap of a report: per backbone that ran the main sampler, the gap of the real training
// embeddings ("before") against the gap with the main sampler's synthetic rows in ("after"), re-based on the
// real rows' spread, per class and on average over the seeds where both were measured.
import { type GeneralizationGap, gapAgainstRealSpread } from '../metrics/generalization-gap.js';
import type { MethodKey } from './methods.js';
import type { Phase1Variant } from './phase1-variants.js';
import { type ComparisonSettings, samplersFor } from './plan.js';
import type { PlanResults } from './plan-results.js';
import { seedStat } from './statistics.js';

export interface GapRow {
  /** Mean distance of a test embedding to its nearest training embedding of its class. */
  testNearest: { before: number | null; after: number | null };
  distanceRatio: { before: number | null; after: number | null };
  featureGap: { before: number | null; after: number | null };
}

export interface GapComparison {
  backbone: Phase1Variant;
  sampler: MethodKey;
  seeds: number;
  perClass: GapRow[];
  mean: GapRow;
}

function meanOverClasses(gap: GeneralizationGap, field: 'testNearest'): number | null {
  return seedStat(gap.perClass.map((c) => c[field])).mean;
}

export function gapComparisons(settings: ComparisonSettings, found: PlanResults): GapComparison[] {
  const gap: GapComparison[] = [];
  for (const backbone of settings.backbones) {
    if (!samplersFor(settings, backbone).includes(settings.mainSampler)) continue;
    const before = new Map(found.backbone(backbone).map((r) => [r.seedIndex, r.gap]));
    const pairs = found
      .sampler(backbone, settings.mainSampler)
      .filter((r) => r.gapAfter !== null && before.has(r.seedIndex))
      .map((r) => {
        const gapBefore = before.get(r.seedIndex)!;
        return { before: gapBefore, after: gapAgainstRealSpread(gapBefore, r.gapAfter!) };
      });
    if (pairs.length === 0) continue;
    const classes = pairs[0].before.perClass.length;
    const perClass: GapRow[] = Array.from({ length: classes }, (_, k) => ({
      testNearest: {
        before: seedStat(pairs.map((p) => p.before.perClass[k].testNearest)).mean,
        after: seedStat(pairs.map((p) => p.after.perClass[k].testNearest)).mean,
      },
      distanceRatio: {
        before: seedStat(pairs.map((p) => p.before.perClass[k].distanceRatio)).mean,
        after: seedStat(pairs.map((p) => p.after.perClass[k].distanceRatio)).mean,
      },
      featureGap: {
        before: seedStat(pairs.map((p) => p.before.perClass[k].featureGap)).mean,
        after: seedStat(pairs.map((p) => p.after.perClass[k].featureGap)).mean,
      },
    }));
    gap.push({
      backbone,
      sampler: settings.mainSampler,
      seeds: pairs.length,
      perClass,
      mean: {
        testNearest: {
          before: seedStat(pairs.map((p) => meanOverClasses(p.before, 'testNearest'))).mean,
          after: seedStat(pairs.map((p) => meanOverClasses(p.after, 'testNearest'))).mean,
        },
        distanceRatio: {
          before: seedStat(pairs.map((p) => p.before.meanDistanceRatio)).mean,
          after: seedStat(pairs.map((p) => p.after.meanDistanceRatio)).mean,
        },
        featureGap: {
          before: seedStat(pairs.map((p) => p.before.meanFeatureGap)).mean,
          after: seedStat(pairs.map((p) => p.after.meanFeatureGap)).mean,
        },
      },
    });
  }
  return gap;
}
