// The content of a comparison report as plain tables and sentences, shared by the Markdown and HTML
// renderers so that the two pages always say the same thing.
import {
  type ComparisonReport,
  comparableRows,
  type GapRow,
  type MethodRow,
  type PairedRow,
} from './aggregate.js';
import { duration, num, pct, pctStat, pointsStat, secondsStat } from './format.js';
import { machineLabel } from './machine.js';
import type { SessionRecord } from './session-log.js';
import { tCritical5 } from './statistics.js';
import { UNKNOWN_MACHINE } from './unit-machines.js';

export interface Table {
  header: string[];
  rows: string[][];
  /** Rows to emphasise (e.g. the best balanced accuracy). */
  emphasis?: number[];
}

/** "7 of 12 units finished (1 more undefined on its data; 2 of 4 phase-1 trainings)". */
export function progressSummary(r: ComparisonReport): string {
  const { units } = r;
  return (
    `${units.finished} of ${units.total} units finished (` +
    (units.settled > 0 ? `${units.settled} more undefined on its data; ` : '') +
    `${units.trainings.finished} of ${units.trainings.total} phase-1 trainings)`
  );
}

export function partialNotice(r: ComparisonReport): string | null {
  if (!r.partial) return null;
  return (
    `PARTIAL RESULTS: ${progressSummary(r)}; each row shows the seeds finished so far. ` +
    'Run the same command again to continue.'
  );
}

/** "M1", "M2", ...: the machine classes' names in the report, in order of their first unit. */
const machineIndex = (r: ComparisonReport, label: string) => r.machines.findIndex((m) => m.label === label);
const machineTag = (r: ComparisonReport, label: string) => `M${machineIndex(r, label) + 1}`;

/** Several machine classes ran the units: their seconds do not compare across classes. */
const mixedMachines = (r: ComparisonReport) => r.machines.length > 1;

/**
 * The command, machine and date lines; with several sessions (a resumed or sharded comparison), one line per
 * session of every shard: which shard, where, when, and its command. Units run on another machine than the
 * report's (a report merged elsewhere, a comparison continued on another machine) list the machines instead.
 */
export function provenance(r: ComparisonReport & { sessionList?: SessionRecord[] }): string[] {
  const m = r.machine;
  const trainedWith = r.backends.length > 0 ? `backbones trained with ${r.backends.join(', ')}` : '';
  // Units of unknown machine (stored before units recorded it, and no session to tell) alone keep the line of
  // the report's machine.
  const elsewhere = r.machines.some((c) => c.label !== UNKNOWN_MACHINE && c.label !== machineLabel(m));
  return [
    `Command: ${r.command}`,
    !mixedMachines(r) && !elsewhere
      ? `Machine: ${m.os}; ${m.cpus} x ${m.cpu}; ${m.memoryGiB} GiB; node ${m.node}; addon ${m.addon}${trainedWith && `; ${trainedWith}`}`
      : `Machines that ran the units (${mixedMachines(r) ? 'seconds compare only between rows of one machine; the table’s machine column names them' : 'not the one that wrote this report'}): ` +
        r.machines
          .map((c) => `${machineTag(r, c.label)} (${c.units} unit${c.units === 1 ? '' : 's'}): ${c.label}`)
          .join('. ') +
        (trainedWith && `. B${trainedWith.slice(1)}`),
    `Date: ${r.date}; wall time ${duration(r.wallSeconds)} over ${r.sessions} session${r.sessions === 1 ? '' : 's'}.`,
    ...sessionLines(r, r.sessionList ?? []),
  ];
}

function sessionLines(r: ComparisonReport, sessions: SessionRecord[]): string[] {
  if (sessions.length < 2 && sessions.every((s) => s.shard === undefined)) return [];
  return sessions.map((s, i) => {
    const seconds = (Date.parse(s.updated) - Date.parse(s.started)) / 1000;
    const where = s.host === undefined ? '' : ` on ${s.host}${s.pid === undefined ? '' : ` (pid ${s.pid})`}`;
    const label = machineLabel(s.machine);
    const machine =
      mixedMachines(r) && r.machines.some((c) => c.label === label) ? ` (${machineTag(r, label)})` : '';
    return (
      `Session ${i + 1}: ${s.shard === undefined ? 'whole plan' : `shard ${s.shard}`}${where}${machine}, ` +
      `${s.started} + ${duration(seconds)}: ${s.command}`
    );
  });
}

const undefinedNote = (row: MethodRow) =>
  row.undefinedSeeds > 0 ? ` (${row.undefinedSeeds} undefined)` : '';
const seedsCell = (row: MethodRow) => `${row.seeds}/${row.plannedSeeds}${undefinedNote(row)}`;

export function metricsTable(r: ComparisonReport): Table {
  // Bold the best of the rows over the same number of seeds (a mean over fewer seeds is over other splits).
  const comparable = new Set(comparableRows(r.rows));
  let bestIndex = -1;
  let bestValue = -Infinity;
  r.rows.forEach((row, i) => {
    const v = row.metrics.balancedAccuracy.mean;
    if (v !== null && comparable.has(row) && v > bestValue) {
      bestValue = v;
      bestIndex = i;
    }
  });
  return {
    header: [
      'method',
      'seeds',
      'balanced acc',
      'gm',
      'gmMacro',
      'macro F1',
      'accuracy',
      'params phase 1',
      'params phase 3',
      'phase 1 s',
      'embed s',
      'phase 2 s',
      'phase 3 s',
      'total s',
      ...(mixedMachines(r) ? ['machine'] : []),
    ],
    rows: r.rows.map((row) => [
      row.label,
      seedsCell(row),
      pctStat(row.metrics.balancedAccuracy),
      pctStat(row.metrics.gm),
      pctStat(row.metrics.gmMacro),
      pctStat(row.metrics.macroF1),
      pctStat(row.metrics.accuracy),
      countCell(row.parameters.phase1),
      countCell(row.parameters.phase3),
      secondsStat(row.seconds.phase1),
      secondsStat(row.seconds.embed),
      secondsStat(row.seconds.phase2),
      secondsStat(row.seconds.phase3),
      secondsStat(row.seconds.total),
      ...(mixedMachines(r)
        ? [
            row.machines
              .map((l) => machineIndex(r, l))
              .sort((a, b) => a - b)
              .map((i) => `M${i + 1}`)
              .join(', '),
          ]
        : []),
    ]),
    emphasis: bestIndex >= 0 ? [bestIndex] : [],
  };
}

/** A parameter count with thousands separators ("464,154"); "–" when unknown. */
const countCell = (n: number | null) => (n === null ? '–' : n.toLocaleString('en-US'));

export const METRICS_NOTE =
  'Test-set metrics in %, mean ± sample standard deviation (divisor n − 1) over the finished seeds; one seed ' +
  'gives the mean alone. Params: the parameters each phase trains, phase 1 the whole network (every ' +
  'convolution, batch-norm scale and shift, and the head), phase 3 a fresh head on the frozen embeddings ' +
  '(64 × classes weights, plus a bias except for LDAM’s cosine head). Phase 1 s: training the backbone ' +
  '(shared by every sampler on it, spent once per seed; for pixel-smote and pixel-ros it includes ' +
  'over-sampling the training images in pixel space, and trains on the balanced set); embed s: embedding the ' +
  'training set and predicting the test set with the backbone; phase 2 s: resampling the embeddings; ' +
  'phase 3 s: training the head; total s: their sum, seed by seed. Bold: the best mean balanced accuracy ' +
  'among the rows over the most seeds (a mean over fewer seeds is over other splits).';

export const COST_NOTE =
  'Pixel-space baselines: pixel-smote over-samples the uint8 training images, flattened to C·H·W vectors, ' +
  'with SMOTE (k = 5, imbalanced-learn’s semantics; synthetic pixels rounded to the nearest integer) and ' +
  'pixel-ros duplicates images at random, every class up to the majority count; the CNN is then trained end ' +
  'to end with CE on the balanced set. Their "phase 1 only" rows are the classic pre-processing baselines; ' +
  'samplers on those backbones fit on the embeddings of the original imbalanced training images. GAN-based ' +
  'over-samplers (BAGAN, DeepSMOTE) are not measured.';

export function pairedTable(r: ComparisonReport): Table {
  const verdict = (p: PairedRow) => {
    const { significant, difference } = p.comparison;
    if (significant === null) return difference.n === 1 ? 'one seed: no test' : '–';
    if (!significant) return 'no';
    return (difference.mean ?? 0) > 0 ? 'yes, better' : 'yes, worse';
  };
  return {
    header: [
      'method',
      'against',
      'seeds',
      'difference (points)',
      'better on',
      'paired t',
      'beyond the seed spread (p < 0.05)',
    ],
    rows: r.paired.map((p) => [
      p.mainLabel,
      p.otherLabel,
      String(p.comparison.difference.n),
      pointsStat(p.comparison.difference),
      `${p.comparison.wins}/${p.comparison.difference.n} seeds`,
      tCell(p.comparison.t),
      verdict(p),
    ]),
  };
}

const tCell = (t: number | null) => {
  if (t === null) return '–';
  if (Number.isFinite(t)) return t.toFixed(2);
  return t > 0 ? '∞' : '−∞';
};

export function pairedNote(r: ComparisonReport): string {
  const seeds = r.settings.seeds;
  const threshold =
    seeds >= 2 ? ` (with ${seeds} seeds it needs |t| > ${tCritical5(seeds - 1).toFixed(2)})` : '';
  return (
    'Balanced accuracy of the main sampler minus that of another method, seed by seed (the same split and, on ' +
    'the same backbone, the same trained network), in percentage points: mean ± sample standard deviation of ' +
    'the per-seed differences, how many seeds the main sampler won, and a two-sided paired t-test at 5%' +
    `${threshold}. Pairing removes the spread the two methods share, so this answers "is it better" more ` +
    'sharply than comparing the rows above. Each row is its own test, uncorrected for the number of rows: ' +
    'with many rows, an occasional "yes" is expected by chance alone.'
  );
}

export function classLabel(r: ComparisonReport, k: number): string {
  const n = r.classes.trainCounts[k];
  return `${r.classes.labels[k]}${n !== undefined ? ` (n=${n})` : ''}`;
}

export function bestRows(r: ComparisonReport): MethodRow[] {
  return r.best.map((id) => r.rows.find((row) => row.id === id)!).filter(Boolean);
}

export function perClassTable(r: ComparisonReport): Table {
  const best = bestRows(r);
  return {
    header: ['class (train count)', ...best.map((row) => row.label)],
    rows: r.classes.labels.map((_, k) => [
      classLabel(r, k),
      ...best.map((row) => pct(row.perClassAccuracy[k])),
    ]),
  };
}

export function gapTables(r: ComparisonReport): { title: string; table: Table }[] {
  const cells = (g: GapRow) => [
    num(g.testNearest.before),
    num(g.testNearest.after),
    num(g.distanceRatio.before),
    num(g.distanceRatio.after),
    num(g.featureGap.before),
    num(g.featureGap.after),
  ];
  return r.gap.map((g) => ({
    title: `${g.backbone} backbone, after = with ${g.sampler}'s synthetic rows (${g.seeds} seed${g.seeds === 1 ? '' : 's'})`,
    table: {
      header: [
        'class (train count)',
        'test-to-train distance before',
        'after',
        'distance ratio before',
        'after',
        'feature gap before',
        'after',
      ],
      rows: [
        ...g.perClass.map((c, k) => [classLabel(r, k), ...cells(c)]),
        ['mean over classes', ...cells(g.mean)],
      ],
    },
  }));
}

export const GAP_NOTE =
  "Test-to-train distance: mean distance of a class's test embeddings to their nearest training embedding of the " +
  'class (after: real and synthetic rows); smaller means the training set covers more of where the test points ' +
  'fall. Distance ratio: that distance divided by the mean distance of each real training embedding to its ' +
  'nearest other one of the class (leave-one-out), the same denominator before and after, so the two differ only ' +
  'in how close the test points are to what training covers; 1 means test points sit as close to the training ' +
  'set as training points sit to each other. Feature gap: relative L1 gap of the train and test means of the ' +
  "class's top-10 features (after: the mean includes the synthetic rows). Mean over seeds.";

export function curvesTable(r: ComparisonReport): Table {
  return {
    header: ['backbone', 'seed', 'epochs', 'first-epoch loss', 'last-epoch loss', 'last-epoch train acc'],
    rows: r.curves.map((c) => [
      c.backbone,
      String(c.seedIndex),
      String(c.loss.length),
      num(c.loss[0] ?? null),
      num(c.loss[c.loss.length - 1] ?? null),
      pct(c.accuracy[c.accuracy.length - 1] ?? null),
    ]),
  };
}

export function fallbackLines(r: ComparisonReport): string[] {
  return r.rows.flatMap((row) => row.fallbacks.map((f) => `${row.label}, ${f}`));
}

/** What becomes of a unit without a result: said the same way in the reports and the progress lines. */
export const failureOutcome = (settled: boolean) =>
  settled ? '(undefined on this data: recorded, not retried)' : '(not stored; retried by the next run)';

export function failureLines(r: ComparisonReport): string[] {
  return r.failures.map((f) => `${f.unit}: ${f.message} ${failureOutcome(f.settled)}`);
}
