// results.md: the comparison report as Markdown.
import type { ComparisonReport } from './aggregate.js';
import {
  COST_NOTE,
  curvesTable,
  failureLines,
  fallbackLines,
  GAP_NOTE,
  gapTables,
  METRICS_NOTE,
  metricsTable,
  pairedNote,
  pairedTable,
  partialNotice,
  perClassTable,
  provenance,
  type Table,
} from './report-sections.js';

const cell = (text: string) => text.replace(/\|/g, '\\|');

export function markdownTable(t: Table): string {
  const emphasis = new Set(t.emphasis ?? []);
  return [
    `| ${t.header.map(cell).join(' | ')} |`,
    `|${t.header.map(() => '---').join('|')}|`,
    ...t.rows.map(
      (row, i) => `| ${row.map((c) => (emphasis.has(i) ? `**${cell(c)}**` : cell(c))).join(' | ')} |`,
    ),
  ].join('\n');
}

export function renderMarkdown(r: ComparisonReport): string {
  const notice = partialNotice(r);
  const [command, ...rest] = provenance(r);
  const lines = [`# ${r.title}`, ''];
  if (notice) lines.push(`> **${notice}**`, '');
  lines.push(`Command: \`${command.slice('Command: '.length)}\``, '', ...rest.flatMap((l) => [l, '']));
  lines.push('## Schedule', '', ...r.schedule.map((s) => `- ${s}`), '');
  lines.push('## Test metrics', '', METRICS_NOTE, '', markdownTable(metricsTable(r)), '', COST_NOTE, '');
  if (r.paired.length > 0) {
    lines.push(
      `## ${r.settings.mainSampler} against each method, seed by seed`,
      '',
      pairedNote(r),
      '',
      markdownTable(pairedTable(r)),
      '',
    );
  }
  lines.push(
    '## Per-class test accuracy of the best methods (%, mean over seeds)',
    '',
    markdownTable(perClassTable(r)),
    '',
  );
  lines.push('## Generalization gap of the embeddings per class', '', GAP_NOTE, '');
  const gaps = gapTables(r);
  if (gaps.length === 0) lines.push('(no backbone with the main sampler has finished yet)', '');
  for (const g of gaps) lines.push(`### ${g.title}`, '', markdownTable(g.table), '');
  lines.push(
    '## Phase-1 training',
    '',
    'Loss per epoch is plotted in results.html; the full history is in each unit\u2019s phase1.json.',
    '',
    markdownTable(curvesTable(r)),
    '',
  );
  const fallbacks = fallbackLines(r);
  if (fallbacks.length > 0) lines.push('## Sampler fallbacks', '', ...fallbacks.map((f) => `- ${f}`), '');
  const failures = failureLines(r);
  if (failures.length > 0) lines.push('## Units without a result', '', ...failures.map((f) => `- ${f}`), '');
  return lines.join('\n');
}
