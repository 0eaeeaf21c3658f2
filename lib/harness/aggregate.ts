// From the stored unit results of a plan to the comparison report (what results.json holds and the Markdown
// and HTML pages render): one row per method with mean and spread over seeds (method-rows.ts), the best
// methods (ranking.ts), the main sampler against the others seed by seed (paired-rows.ts), the
// generalization gap before and after the main sampler (gap-rows.ts), and the phase-1 training curves.
// Works on whatever subset of the units has finished; the report says how much that is.
import { describeImbalance } from '../data/imbalance.js';
import { type GapComparison, gapComparisons } from './gap-rows.js';
import type { MachineInfo } from './machine.js';
import { type MethodRow, methodRows } from './method-rows.js';
import type { MethodKey } from './methods.js';
import { type PairedRow, pairedRows } from './paired-rows.js';
import type { Phase1Variant } from './phase1-variants.js';
import { type ComparisonPlan, type ComparisonSettings, samplersFor } from './plan.js';
import { planResults } from './plan-results.js';
import { bestRows } from './ranking.js';
import { describeSchedule } from './schedule.js';
import type { SessionRecord } from './session-log.js';
import { machineClasses, unitMachine } from './unit-machines.js';
import type { UnitResult } from './unit-results.js';

export type { GapComparison, GapRow } from './gap-rows.js';
export { METRICS, type MethodRow, type MetricName } from './method-rows.js';
export type { PairedRow } from './paired-rows.js';
export { BEST_COUNT, comparableRows } from './ranking.js';

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
  /** The sessions' records, which tell the machine of units stored before units recorded it. */
  sessionList?: readonly SessionRecord[];
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
  /** The machine of the session that wrote the report. */
  machine: MachineInfo;
  /**
   * The machine classes that ran the units (unit-machines.ts), in order of their first unit; with more than
   * one, seconds compare only between rows of one class (each row's `machines` says which).
   */
  machines: { label: string; units: number }[];
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
    samplersOn: Partial<Record<Phase1Variant, MethodKey[]>>;
    mainSampler: MethodKey;
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

/** The report of a plan from the unit results found so far (keyed by unit id). */
export function aggregate(
  plan: ComparisonPlan,
  results: ReadonlyMap<string, UnitResult>,
  context: ReportContext,
): ComparisonReport {
  const { settings } = plan;
  const found = planResults(plan, results);
  const machineOf = (r: UnitResult) => unitMachine(r, context.sessionList ?? []);
  const rows = methodRows(plan, found, context.failures, machineOf);
  const best = bestRows(rows);
  const paired = pairedRows(settings, rows, found);
  const gap = gapComparisons(settings, found);

  const allBackbones = found.allBackbones();
  const first = allBackbones[0];
  const classCount = first?.data.classCounts.length ?? 0;
  const names = first?.data.classNames ?? null;
  const finished = plan.units.filter((u) => results.has(u.id)).length;
  const settled = context.failures.filter((f) => f.settled).length;
  const trainingsFinished = plan.backbones.filter((p) => results.has(p.unit.id)).length;
  const { base } = settings;
  return {
    title:
      `eos compare: ${base.dataset}, ${describeImbalance(base.imbalance)}, ` +
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
    machines: machineClasses(
      plan.units.flatMap((u) => results.get(u.id) ?? []),
      machineOf,
    ),
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
