// From the stored unit results of a plan to the comparison report (what results.json holds and the Markdown
// and HTML pages render): one row per method with mean and spread over seeds, the best methods' per-class
// accuracy, the generalization gap before and after the main sampler, and the phase-1 training curves.
// Works on whatever subset of the units has finished; the report says how much that is.
import { type GeneralizationGap, gapAgainstRealSpread } from '../metrics/generalization-gap.js';
import type { SamplerName } from '../pipeline/samplers.js';
import type { MachineInfo } from './machine.js';
import type { Phase1Variant } from './phase1-variants.js';
import { type ComparisonPlan, type ComparisonSettings, samplersFor } from './plan.js';
import { describeSchedule } from './schedule.js';
import {
  meanVector,
  type PairedDifference,
  pairedDifference,
  type SeedStat,
  seedStat,
} from './statistics.js';
import type { BackboneResult, SamplerResult, UnitResult } from './unit-results.js';

export const METRICS = ['balancedAccuracy', 'gm', 'gmMacro', 'macroF1', 'accuracy'] as const;
export type MetricName = (typeof METRICS)[number];

/** How many methods the per-class table and plot show (plus the CE baseline when it is not among them). */
export const BEST_COUNT = 4;

export interface MethodRow {
  /** 'ce' (phase 1 only) or 'ce+eos' (phases 2 and 3 on the CE backbone). */
  id: string;
  label: string;
  backbone: Phase1Variant;
  sampler: SamplerName | null;
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

export interface GapRow {
  /** Mean distance of a test embedding to its nearest training embedding of its class. */
  testNearest: { before: number | null; after: number | null };
  distanceRatio: { before: number | null; after: number | null };
  featureGap: { before: number | null; after: number | null };
}

export interface GapComparison {
  backbone: Phase1Variant;
  sampler: SamplerName;
  seeds: number;
  perClass: GapRow[];
  mean: GapRow;
}

/** The main sampler on one backbone against another method, seed by seed (balanced accuracy). */
export interface PairedRow {
  /** The main sampler's row id (e.g. 'ce+eos') and the other method's (e.g. 'ce+smote' or 'focal'). */
  mainId: string;
  mainLabel: string;
  otherId: string;
  otherLabel: string;
  /** main minus other, per seed where both finished. */
  comparison: PairedDifference;
}

export interface TrainingCurve {
  backbone: Phase1Variant;
  seedIndex: number;
  loss: number[];
  accuracy: number[];
}

export interface ReportContext {
  command: string;
  machine: MachineInfo;
  now: Date;
  wallSeconds: number;
  sessions: number;
  /** Units without a result and why; `settled` ones are undefined on their data and count as done. */
  failures: { unit: string; message: string; settled: boolean }[];
}

export interface ComparisonReport {
  title: string;
  partial: boolean;
  /** `settled`: units undefined on their data (done, without a result; see failures). */
  units: {
    finished: number;
    settled: number;
    total: number;
    trainings: { finished: number; total: number };
  };
  failures: ReportContext['failures'];
  command: string;
  machine: MachineInfo;
  backends: string[];
  date: string;
  wallSeconds: number;
  sessions: number;
  settings: {
    dataset: string;
    imbalance: ComparisonSettings['base']['imbalance'];
    depth: number;
    seeds: number;
    backbones: Phase1Variant[];
    samplersOn: Partial<Record<Phase1Variant, SamplerName[]>>;
    mainSampler: SamplerName;
    limits: ComparisonSettings['limits'];
  };
  schedule: string[];
  classes: { labels: string[]; trainCounts: number[] };
  rows: MethodRow[];
  /** Row ids of the best methods by mean balanced accuracy (and the CE baseline). */
  best: string[];
  gap: GapComparison[];
  /** The main sampler against the other methods: on a full backbone against every other row, elsewhere
   * against its own backbone's phase-1-only row. */
  paired: PairedRow[];
  curves: TrainingCurve[];
}

function meanOverClasses(gap: GeneralizationGap, field: 'testNearest'): number | null {
  return seedStat(gap.perClass.map((c) => c[field])).mean;
}

const rowId = (backbone: Phase1Variant, sampler: SamplerName | null) =>
  sampler === null ? backbone : `${backbone}+${sampler}`;

function metricStats(results: { test: UnitResult['test'] }[]): Record<MetricName, SeedStat> {
  return Object.fromEntries(METRICS.map((m) => [m, seedStat(results.map((r) => r.test[m]))])) as Record<
    MetricName,
    SeedStat
  >;
}

/**
 * The rows that may be ranked against each other: those with a balanced accuracy over the most seeds any row
 * has. A mean over fewer seeds (a seed not finished yet, or one where the method is undefined) is over other
 * splits, so it is shown but neither ranked best nor picked for the per-class table.
 */
export function comparableRows(rows: readonly MethodRow[]): MethodRow[] {
  const scored = rows.filter((r) => r.metrics.balancedAccuracy.mean !== null);
  const most = Math.max(0, ...scored.map((r) => r.seeds));
  return scored.filter((r) => r.seeds === most);
}

/** The report of a plan from the unit results found so far (keyed by unit id). */
export function aggregate(
  plan: ComparisonPlan,
  results: ReadonlyMap<string, UnitResult>,
  context: ReportContext,
): ComparisonReport {
  const { settings } = plan;
  const backboneResults = (b: Phase1Variant) =>
    plan.backbones
      .filter((p) => p.unit.backbone === b)
      .map((p) => results.get(p.unit.id) as BackboneResult | undefined)
      .filter((r): r is BackboneResult => r !== undefined);
  const samplerResults = (b: Phase1Variant, s: SamplerName) =>
    plan.backbones
      .filter((p) => p.unit.backbone === b)
      .flatMap((p) => p.samplers.filter((u) => u.sampler === s))
      .map((u) => results.get(u.id) as SamplerResult | undefined)
      .filter((r): r is SamplerResult => r !== undefined);

  const settledIds = new Set(context.failures.filter((f) => f.settled).map((f) => f.unit));
  const rows: MethodRow[] = [];
  for (const backbone of settings.backbones) {
    const p1 = backboneResults(backbone);
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
      const done = samplerResults(backbone, sampler);
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

  const ranked = comparableRows(rows)
    .slice()
    .sort((a, b) => (b.metrics.balancedAccuracy.mean ?? 0) - (a.metrics.balancedAccuracy.mean ?? 0));
  const best = ranked.slice(0, BEST_COUNT).map((r) => r.id);
  if (!best.includes('ce') && ranked.some((r) => r.id === 'ce')) best.push('ce');

  // Balanced accuracy per seed index (null where that seed has not finished), for the paired comparisons.
  const bySeed = (done: readonly { seedIndex: number; test: UnitResult['test'] }[]) => {
    const values: (number | null)[] = new Array(settings.seeds).fill(null);
    for (const r of done) values[r.seedIndex] = r.test.balancedAccuracy;
    return values;
  };
  const rowValues = (row: MethodRow) =>
    bySeed(row.sampler === null ? backboneResults(row.backbone) : samplerResults(row.backbone, row.sampler));
  const paired: PairedRow[] = [];
  for (const main of rows.filter((r) => r.sampler === settings.mainSampler)) {
    const full = settings.fullBackbones.includes(main.backbone);
    const others = rows.filter(
      (r) => r !== main && (full || (r.backbone === main.backbone && r.sampler === null)),
    );
    const mainValues = rowValues(main);
    for (const other of others) {
      const comparison = pairedDifference(mainValues, rowValues(other));
      // A method with no seed in common (not run yet, or failed) has nothing to compare.
      if (comparison.difference.n === 0) continue;
      paired.push({
        mainId: main.id,
        mainLabel: main.label,
        otherId: other.id,
        otherLabel: other.label,
        comparison,
      });
    }
  }

  const gap: GapComparison[] = [];
  for (const backbone of settings.backbones) {
    if (!samplersFor(settings, backbone).includes(settings.mainSampler)) continue;
    const before = new Map(backboneResults(backbone).map((r) => [r.seedIndex, r.gap]));
    const pairs = samplerResults(backbone, settings.mainSampler)
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

  const allBackbones = plan.backbones
    .map((p) => results.get(p.unit.id) as BackboneResult | undefined)
    .filter((r): r is BackboneResult => r !== undefined);
  const first = allBackbones[0];
  const classCount = first?.data.classCounts.length ?? 0;
  const names = first?.data.classNames ?? null;
  const finished = plan.units.filter((u) => results.has(u.id)).length;
  const settled = context.failures.filter((f) => f.settled).length;
  const trainingsFinished = plan.backbones.filter((p) => results.has(p.unit.id)).length;
  const { base } = settings;
  return {
    title:
      `eos compare: ${base.dataset}, ${base.imbalance.type} imbalance ratio ${base.imbalance.ratio}, ` +
      `ResNet-${base.depth}, ${settings.seeds} seed${settings.seeds === 1 ? '' : 's'}`,
    partial: finished + settled < plan.units.length,
    units: {
      finished,
      settled,
      total: plan.units.length,
      trainings: { finished: trainingsFinished, total: plan.backbones.length },
    },
    failures: context.failures,
    command: context.command,
    machine: context.machine,
    backends: [
      ...new Set(
        allBackbones.map(
          (r) => `${r.backend} (${r.threads === 0 ? 'all' : r.threads} thread${r.threads === 1 ? '' : 's'})`,
        ),
      ),
    ],
    date: context.now.toISOString(),
    wallSeconds: context.wallSeconds,
    sessions: context.sessions,
    settings: {
      dataset: base.dataset,
      imbalance: base.imbalance,
      depth: base.depth,
      seeds: settings.seeds,
      backbones: settings.backbones,
      samplersOn: Object.fromEntries(settings.backbones.map((b) => [b, samplersFor(settings, b)])),
      mainSampler: settings.mainSampler,
      limits: settings.limits,
    },
    schedule: describeSchedule(settings),
    classes: {
      labels: Array.from({ length: classCount }, (_, k) => (names?.[k] ? `${k} ${names[k]}` : `${k}`)),
      trainCounts: first?.data.classCounts ?? [],
    },
    rows,
    best,
    gap,
    paired,
    curves: allBackbones.map((r) => ({
      backbone: r.backbone,
      seedIndex: r.seedIndex,
      loss: r.history.map((h) => h.loss),
      accuracy: r.history.map((h) => h.accuracy),
    })),
  };
}
