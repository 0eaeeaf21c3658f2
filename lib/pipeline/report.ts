// The Markdown report of a run: headline metrics side by side, per-class accuracy, generalization gap.

import { describeSkipped } from '../data/folder-bad-images.js';
import { describeImbalance } from '../data/imbalance.js';
import type { ClassificationMetrics } from '../metrics/classification.js';
import type { MethodResult, RunResult } from './types.js';

const pct = (v: number) => (Number.isFinite(v) ? (100 * v).toFixed(2) : 'n/a');
const num = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : 'n/a');

function table(header: string[], rows: string[][]): string {
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

export interface ReportColumn {
  name: string;
  m: ClassificationMetrics;
}

/** The headline metrics of each column. */
export function metricsSection(columns: ReportColumn[]): string[] {
  return [
    '## Test metrics (%)',
    '',
    table(
      ['model', 'balanced acc', 'gm', 'gmMacro', 'macro F1', 'accuracy'],
      columns.map(({ name, m }) => [
        name,
        pct(m.balancedAccuracy),
        pct(m.gm),
        pct(m.gmMacro),
        pct(m.macroF1),
        pct(m.accuracy),
      ]),
    ),
    '',
  ];
}

/** "k name (n=count)" for each class: the row label of the per-class tables. */
export function classLabeller(counts: number[], classNames?: string[]): (k: number) => string {
  return (k) => `${k}${classNames?.[k] ? ` ${classNames[k]}` : ''} (n=${counts[k]})`;
}

export function perClassSection(
  columns: ReportColumn[],
  counts: number[],
  label: (k: number) => string,
): string[] {
  return [
    '## Per-class test accuracy (%)',
    '',
    table(
      ['class (train count)', ...columns.map((col) => col.name)],
      counts.map((_, k) => [label(k), ...columns.map(({ m }) => pct(m.perClassAccuracy[k]))]),
    ),
    '',
  ];
}

export function gapSection(gap: RunResult['gap'], label: (k: number) => string): string[] {
  return [
    `## Generalization gap of the embeddings (before: real training embeddings; after: with ${gap.sampler}'s synthetic rows)`,
    '',
    "distance ratio = mean distance of a class's test embeddings to their nearest training embedding of the class " +
      '(after: real or synthetic), divided by the mean leave-one-out nearest-neighbour distance of its real training ' +
      "embeddings; feature gap = relative L1 gap of the train and test means of the class's top-10 features.",
    '',
    table(
      ['class (train count)', 'distance ratio before', 'after', 'feature gap before', 'after'],
      gap.before.perClass.map((g, k) => [
        label(k),
        num(g.distanceRatio),
        num(gap.after.perClass[k].distanceRatio),
        num(g.featureGap),
        num(gap.after.perClass[k].featureGap),
      ]),
    ),
    '',
  ];
}

/** Sampler fallbacks and the comparison methods that failed, where there are any. */
export function notesSections(r: Pick<RunResult, 'methods' | 'failedMethods'>): string[] {
  const lines: string[] = [];
  const fallbacks = r.methods.flatMap((m) => m.fallbacks.map((f) => `- ${m.name}: ${f}`));
  if (fallbacks.length > 0) lines.push('## Sampler fallbacks', '', ...fallbacks, '');
  const failed = failedLines(r);
  if (failed.length > 0) lines.push('## Comparison methods that failed on this data', '', ...failed, '');
  return lines;
}

/** The phases 2+3 column of each method, the main one in bold. */
export function methodColumns(methods: MethodResult[], main: string): ReportColumn[] {
  return methods.map((m) => ({
    name: m.name === main ? `**${m.name}** (phases 2+3)` : `${m.name} (phases 2+3)`,
    m: m.test,
  }));
}

export function formatReport(r: RunResult, classNames?: string[]): string {
  const c = r.config;
  const columns: ReportColumn[] = [
    {
      name: `phase 1 only (${c.phase1.loss}${c.phase1.trainRule === 'none' ? '' : `, ${c.phase1.trainRule}`})`,
      m: r.phase1.test,
    },
    ...methodColumns(r.methods, c.sampler),
  ];
  const label = classLabeller(r.data.classCounts, classNames);
  return [
    `# eos run: ${c.dataset}, ${describeImbalance(c.imbalance)}, ResNet-${c.depth} (${r.backend})`,
    '',
    `Training images: ${r.data.train} (per class ${r.data.classCounts.join(', ')}); test images: ${r.data.test}` +
      (r.data.validation ? `; validation images: ${r.data.validation}` : '') +
      '. Every number below is on the balanced test set, which no step selects on.' +
      (r.data.skipped.count > 0
        ? ` ${describeSkipped(r.data.skipped.first, 10, r.data.skipped.count)}.`
        : ''),
    `Phase 1: ${c.phase1.epochs} epochs, batch ${c.phase1.batch}, lr ${c.phase1.lr}, loss ${c.phase1.loss}, ` +
      `rule ${c.phase1.trainRule}, ${r.phase1.seconds.toFixed(0)} s` +
      (r.phase1.resumedFrom
        ? ` (resumed from epoch ${r.phase1.resumedFrom.epoch}, batch ${r.phase1.resumedFrom.batch})`
        : '') +
      `. Phase 3: ${c.phase3.epochs} epochs of a fresh head per method. Total ${r.seconds.total.toFixed(0)} s.`,
    '',
    ...metricsSection(columns),
    ...perClassSection(columns, r.data.classCounts, label),
    ...gapSection(r.gap, label),
    ...notesSections(r),
  ].join('\n');
}

const failedLines = (r: Pick<RunResult, 'failedMethods'>) =>
  r.failedMethods.map((f) => `- ${f.name}: ${f.message}`);

/** What the console summary needs: a three-phase run's result, or a run of phases 2+3 alone. */
export type SummaryOf = Pick<RunResult, 'methods' | 'failedMethods'> & {
  config: { sampler: string };
  data: { classCounts: number[] };
  phase1?: { test: ClassificationMetrics };
};

/** A short console summary: the headline table only. */
export function formatSummary(r: SummaryOf): string {
  const rows = [
    ...(r.phase1 ? [['phase 1 only', r.phase1.test] as const] : []),
    ...r.methods.map((m) => [m.name === r.config.sampler ? `${m.name} (main)` : m.name, m.test] as const),
  ];
  const counts = r.data.classCounts;
  const rarest = counts.indexOf(Math.min(...counts));
  const summary = table(
    ['model', 'balanced acc', 'gm', 'macro F1', `rarest class (${rarest}) acc`],
    rows.map(([name, m]) => [
      name,
      pct(m.balancedAccuracy),
      pct(m.gm),
      pct(m.macroF1),
      pct(m.perClassAccuracy[rarest]),
    ]),
  );
  const failed = failedLines(r);
  return failed.length > 0 ? `${summary}\n\nFailed on this data:\n${failed.join('\n')}` : summary;
}
