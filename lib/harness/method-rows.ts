// The report's table rows: one per method (a backbone alone, or a sampler on it) with the mean and spread of
// each metric over the seeds finished, the cost (trained parameters and seconds per phase and in total),
// per-class accuracy and the sampler's notes.
import { headKindFor } from '../pipeline/head-kind.js';
import type { MethodKey } from './methods.js';
import { headParameterCount, knownInputShape, networkParameterCount } from './parameter-counts.js';
import type { Phase1Variant } from './phase1-variants.js';
import { type ComparisonPlan, samplersFor, unitConfig } from './plan.js';
import type { PlanResults } from './plan-results.js';
import { meanVector, type SeedStat, seedStat } from './statistics.js';
import type { BackboneResult, SamplerResult, UnitResult } from './unit-results.js';

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
  /**
   * Seconds per seed: phase 1 (training the backbone, shared by its samplers, plus the pixel-space
   * over-sampling of a pixel-smote or pixel-ros backbone), embedding (the training set, and the test set's
   * predictions), phase 2, phase 3, and their sum per seed (`total`).
   */
  seconds: {
    phase1: SeedStat;
    embed: SeedStat;
    phase2: SeedStat | null;
    phase3: SeedStat | null;
    total: SeedStat;
  };
  /** The machine classes that ran the row's units (its backbone's and its own), sorted. */
  machines: string[];
  /** Parameters trained in phase 1 (the whole network; null if unknown) and phase 3 (the fresh head). */
  parameters: { phase1: number | null; phase3: number | null };
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

/** Training the backbone, with the pixel-space over-sampling before it (absent from older results). */
const phase1Seconds = (r: BackboneResult) => r.seconds.phase1 + (r.seconds.pixelResample ?? 0);

/** What a row's seed cost end to end: its backbone's phase 1 and embedding, and the sampler's phases 2 and 3. */
function totalSeconds(p1: readonly BackboneResult[], done: readonly SamplerResult[] | null): SeedStat {
  if (done === null) return seedStat(p1.map((r) => phase1Seconds(r) + r.seconds.embed));
  return seedStat(
    done.map((s) => {
      const b = p1.find((r) => r.seedIndex === s.seedIndex);
      return b ? phase1Seconds(b) + b.seconds.embed + s.seconds.resample + s.seconds.phase3 : null;
    }),
  );
}

/**
 * The whole network's learnable parameters, as recorded by the backbone's results (the same on every seed),
 * or, for results stored before they recorded it, from the data set's known image size.
 */
function networkParameters(plan: ComparisonPlan, backbone: Phase1Variant, p1: readonly BackboneResult[]) {
  const recorded = p1.find((r) => r.trainedParameters !== undefined)?.trainedParameters;
  if (recorded !== undefined) return recorded;
  const shape = knownInputShape(plan.settings.base.dataset);
  const classes = p1[0]?.data.classCounts.length;
  if (!shape || classes === undefined) return null;
  const config = unitConfig(plan.settings, { backbone, seedIndex: 0 });
  return networkParameterCount({ depth: config.depth, ...shape, classes, head: headKindFor(config) });
}

/** Every backbone's phase-1-only row followed by its samplers' rows, in plan order. */
export function methodRows(
  plan: ComparisonPlan,
  found: PlanResults,
  failures: readonly { unit: string; settled: boolean }[],
  machineOf: (r: UnitResult) => string,
): MethodRow[] {
  const machines = (units: readonly UnitResult[]) => [...new Set(units.map(machineOf))].sort();
  const { settings } = plan;
  const settledIds = new Set(failures.filter((f) => f.settled).map((f) => f.unit));
  const rows: MethodRow[] = [];
  for (const backbone of settings.backbones) {
    const p1 = found.backbone(backbone);
    const p1Seconds = {
      phase1: seedStat(p1.map(phase1Seconds)),
      embed: seedStat(p1.map((r) => r.seconds.embed)),
    };
    const classes = p1[0]?.data.classCounts.length;
    const parameters = {
      phase1: networkParameters(plan, backbone, p1),
      phase3:
        classes === undefined
          ? null
          : headParameterCount(classes, headKindFor(unitConfig(settings, { backbone, seedIndex: 0 }))),
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
      seconds: { ...p1Seconds, phase2: null, phase3: null, total: totalSeconds(p1, null) },
      machines: machines(p1),
      parameters: { phase1: parameters.phase1, phase3: null },
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
          total: totalSeconds(p1, done),
        },
        machines: machines([...p1, ...done]),
        parameters,
        perClassAccuracy: meanVector(done.map((r) => r.test.perClassAccuracy)),
        synthetic: seedStat(done.map((r) => r.synthetic)).mean,
        fallbacks: [...new Set(done.flatMap((r) => r.fallbacks.map((f) => `seed ${r.seedIndex}: ${f}`)))],
      });
    }
  }
  return rows;
}
