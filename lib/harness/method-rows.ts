// The report's table rows: one per method (a backbone alone, or a sampler on it) with the mean and spread of
// each metric over the seeds finished, the seconds per phase, per-class accuracy and the sampler's notes.
import type { MethodKey } from './methods.js';
import type { Phase1Variant } from './phase1-variants.js';
import { type ComparisonPlan, samplersFor } from './plan.js';
import type { PlanResults } from './plan-results.js';
import { meanVector, type SeedStat, seedStat } from './statistics.js';
import type { UnitResult } from './unit-results.js';

export const METRICS = ['balancedAccuracy', 'gm', 'gmMacro', 'macroF1', 'accuracy'] as const;
export type MetricName = (typeof METRICS)[number];

export interface MethodRow {
  /** 'ce' (phase 1 only) or 'ce+eos' (phases 2 and 3 on the CE backbone). */
  id: string;
  label: string;
  backbone: Phase1Variant;
  sampler: MethodKey | null;
  /** Seeds finished / planned, and the seeds on which the method is undefined (settled failures). */
  seeds: number;
  plannedSeeds: number;
  undefinedSeeds: number;
  metrics: Record<MetricName, SeedStat>;
  /** Seconds per seed: phase 1 (training the backbone, shared by its samplers), embedding, phase 2, phase 3. */
  seconds: { phase1: SeedStat; embed: SeedStat; phase2: SeedStat | null; phase3: SeedStat | null };
  /** Mean test accuracy per class over the finished seeds. */
  perClassAccuracy: (number | null)[];
  /** Synthetic rows phase 2 added (mean over seeds). */
  synthetic: number | null;
  fallbacks: string[];
}

const rowId = (backbone: Phase1Variant, sampler: MethodKey | null) =>
  sampler === null ? backbone : `${backbone}+${sampler}`;

function metricStats(results: { test: UnitResult['test'] }[]): Record<MetricName, SeedStat> {
  return Object.fromEntries(METRICS.map((m) => [m, seedStat(results.map((r) => r.test[m]))])) as Record<
    MetricName,
    SeedStat
  >;
}

/** Every backbone's phase-1-only row followed by its samplers' rows, in plan order. */
export function methodRows(
  plan: ComparisonPlan,
  found: PlanResults,
  failures: readonly { unit: string; settled: boolean }[],
): MethodRow[] {
  const { settings } = plan;
  const settledIds = new Set(failures.filter((f) => f.settled).map((f) => f.unit));
  const rows: MethodRow[] = [];
  for (const backbone of settings.backbones) {
    const p1 = found.backbone(backbone);
    const p1Seconds = {
      phase1: seedStat(p1.map((r) => r.seconds.phase1)),
      embed: seedStat(p1.map((r) => r.seconds.embed)),
    };
    rows.push({
      id: rowId(backbone, null),
      label: `${backbone} (phase 1 only)`,
      backbone,
      sampler: null,
      seeds: p1.length,
      plannedSeeds: settings.seeds,
      undefinedSeeds: 0,
      metrics: metricStats(p1),
      seconds: { ...p1Seconds, phase2: null, phase3: null },
      perClassAccuracy: meanVector(p1.map((r) => r.test.perClassAccuracy)),
      synthetic: null,
      fallbacks: [],
    });
    for (const sampler of samplersFor(settings, backbone)) {
      const done = found.sampler(backbone, sampler);
      rows.push({
        id: rowId(backbone, sampler),
        label: `${backbone} + ${sampler}`,
        backbone,
        sampler,
        seeds: done.length,
        plannedSeeds: settings.seeds,
        undefinedSeeds: plan.units.filter(
          (u) =>
            u.kind === 'phase23' && u.backbone === backbone && u.sampler === sampler && settledIds.has(u.id),
        ).length,
        metrics: metricStats(done),
        seconds: {
          ...p1Seconds,
          phase2: seedStat(done.map((r) => r.seconds.resample)),
          phase3: seedStat(done.map((r) => r.seconds.phase3)),
        },
        perClassAccuracy: meanVector(done.map((r) => r.test.perClassAccuracy)),
        synthetic: seedStat(done.map((r) => r.synthetic)).mean,
        fallbacks: [...new Set(done.flatMap((r) => r.fallbacks.map((f) => `seed ${r.seedIndex}: ${f}`)))],
      });
    }
  }
  return rows;
}
