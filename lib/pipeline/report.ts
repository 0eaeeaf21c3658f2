// The Markdown report of a run: headline metrics side by side, per-class accuracy, generalization gap.
import type { ClassificationMetrics } from '../metrics/classification.js';
import type { RunResult } from './types.js';

const pct = (v: number) => (Number.isFinite(v) ? (100 * v).toFixed(2) : 'n/a');
const num = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : 'n/a');

function table(header: string[], rows: string[][]): string {
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

export function formatReport(r: RunResult, classNames?: string[]): string {
  const c = r.config;
  const columns: { name: string; m: ClassificationMetrics }[] = [
    {
      name: `phase 1 only (${c.phase1.loss}${c.phase1.trainRule === 'none' ? '' : `, ${c.phase1.trainRule}`})`,
      m: r.phase1.test,
    },
    ...r.methods.map((m) => ({
      name: m.name === c.sampler ? `**${m.name}** (phases 2+3)` : `${m.name} (phases 2+3)`,
      m: m.test,
    })),
  ];
  const label = (k: number) =>
    `${k}${classNames?.[k] ? ` ${classNames[k]}` : ''} (n=${r.data.classCounts[k]})`;
  const lines = [
    `# eos run: ${c.dataset}, ${c.imbalance.type} imbalance ratio ${c.imbalance.ratio}, ResNet-${c.depth} (${r.backend})`,
    '',
    `Training images: ${r.data.train} (per class ${r.data.classCounts.join(', ')}); test images: ${r.data.test}` +
      (r.data.validation ? `; validation images: ${r.data.validation}` : '') +
      '. Every number below is on the balanced test set, which no step selects on.',
    `Phase 1: ${c.phase1.epochs} epochs, batch ${c.phase1.batch}, lr ${c.phase1.lr}, loss ${c.phase1.loss}, ` +
      `rule ${c.phase1.trainRule}, ${r.phase1.seconds.toFixed(0)} s` +
      (r.phase1.resumedFrom
        ? ` (resumed from epoch ${r.phase1.resumedFrom.epoch}, batch ${r.phase1.resumedFrom.batch})`
        : '') +
      `. Phase 3: ${c.phase3.epochs} epochs of a fresh head per method. Total ${r.seconds.total.toFixed(0)} s.`,
    '',
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
    '## Per-class test accuracy (%)',
    '',
    table(
      ['class (train count)', ...columns.map((col) => col.name)],
      r.data.classCounts.map((_, k) => [label(k), ...columns.map(({ m }) => pct(m.perClassAccuracy[k]))]),
    ),
    '',
    `## Generalization gap of the embeddings (before: real training embeddings; after: with ${r.gap.sampler}'s synthetic rows)`,
    '',
    "distance ratio = mean distance of a class's test embeddings to their nearest training embedding of the class " +
      '(after: real or synthetic), divided by the mean leave-one-out nearest-neighbour distance of its real training ' +
      "embeddings; feature gap = relative L1 gap of the train and test means of the class's top-10 features.",
    '',
    table(
      ['class (train count)', 'distance ratio before', 'after', 'feature gap before', 'after'],
      r.gap.before.perClass.map((g, k) => [
        label(k),
        num(g.distanceRatio),
        num(r.gap.after.perClass[k].distanceRatio),
        num(g.featureGap),
        num(r.gap.after.perClass[k].featureGap),
      ]),
    ),
    '',
  ];
  const fallbacks = r.methods.flatMap((m) => m.fallbacks.map((f) => `- ${m.name}: ${f}`));
  if (fallbacks.length > 0) lines.push('## Sampler fallbacks', '', ...fallbacks, '');
  const failed = failedLines(r);
  if (failed.length > 0) lines.push('## Comparison methods that failed on this data', '', ...failed, '');
  return lines.join('\n');
}

const failedLines = (r: RunResult) => r.failedMethods.map((f) => `- ${f.name}: ${f.message}`);

/** A short console summary: the headline table only. */
export function formatSummary(r: RunResult): string {
  const rows = [
    ['phase 1 only', r.phase1.test] as const,
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
