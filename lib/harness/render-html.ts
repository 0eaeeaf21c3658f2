// results.html: the comparison report as one self-contained page (inline CSS and SVG, no script, no
// network): the tables of results.md plus plots of per-class accuracy, the gap per class and the phase-1
// training curves. Written as well-formed XML apart from the doctype, so XML tools can read it too.
import type { ComparisonReport } from './aggregate.js';
import {
  bestRows,
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
import { escapeXml, groupedBarChart, lineChart } from './svg-charts.js';

export function htmlTable(t: Table): string {
  const emphasis = new Set(t.emphasis ?? []);
  return [
    '<table>',
    `<thead><tr>${t.header.map((h) => `<th>${escapeXml(h)}</th>`).join('')}</tr></thead>`,
    '<tbody>',
    ...t.rows.map(
      (row, i) =>
        `<tr${emphasis.has(i) ? ' class="best"' : ''}>${row.map((c) => `<td>${escapeXml(c)}</td>`).join('')}</tr>`,
    ),
    '</tbody>',
    '</table>',
  ].join('\n');
}

const STYLE = `
body { font-family: sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #111; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
thead th { background: #f2f2f2; }
tr.best td { font-weight: bold; }
.partial { background: #fff3cd; border: 1px solid #e0c36c; padding: 0.6em 1em; font-weight: bold; }
.note { color: #444; font-size: 0.9em; }
code { background: #f4f4f4; padding: 0.1em 0.3em; }
figure { margin: 1em 0; }
.charts { display: flex; flex-wrap: wrap; gap: 0 1em; }
`;

function perClassChart(r: ComparisonReport): string {
  const best = bestRows(r);
  return groupedBarChart({
    title: 'Per-class test accuracy of the best methods (%)',
    categories: r.classes.labels,
    series: best.map((row) => ({ name: row.label, values: row.perClassAccuracy })),
    yLabel: 'accuracy (%)',
    yMax: 100,
    scale: 100,
  });
}

function gapCharts(r: ComparisonReport): string[] {
  return r.gap.map((g) =>
    groupedBarChart({
      title: `Test-to-train distance per class, ${g.backbone} backbone: before and after ${g.sampler}`,
      categories: r.classes.labels,
      series: [
        { name: 'before (real training embeddings)', values: g.perClass.map((c) => c.testNearest.before) },
        {
          name: `after (with ${g.sampler}'s synthetic rows)`,
          values: g.perClass.map((c) => c.testNearest.after),
        },
      ],
      yLabel: 'mean distance to nearest training embedding',
    }),
  );
}

/** One small chart per backbone (loss scales differ: LDAM's scaled margins sit far above CE). */
function curvesCharts(r: ComparisonReport): string[] {
  const backbones = [...new Set(r.curves.map((c) => c.backbone))];
  return backbones.map((backbone, i) =>
    lineChart({
      title: `Phase-1 training loss, ${backbone}`,
      xLabel: 'epoch',
      yLabel: 'training loss',
      series: r.curves
        .filter((c) => c.backbone === backbone)
        .map((c) => ({ name: `seed ${c.seedIndex}`, values: c.loss, color: i, dash: c.seedIndex })),
      width: 420,
      height: 260,
    }),
  );
}

export function renderHtml(r: ComparisonReport): string {
  const notice = partialNotice(r);
  const [command, ...rest] = provenance(r);
  const section = (title: string, ...body: string[]) => [`<h2>${escapeXml(title)}</h2>`, ...body].join('\n');
  const para = (text: string, cls?: string) => `<p${cls ? ` class="${cls}"` : ''}>${escapeXml(text)}</p>`;
  const list = (items: string[]) => `<ul>${items.map((i) => `<li>${escapeXml(i)}</li>`).join('')}</ul>`;
  const figure = (svg: string) => `<figure>\n${svg}\n</figure>`;
  const body = [
    `<h1>${escapeXml(r.title)}</h1>`,
    notice ? para(notice, 'partial') : '',
    `<p>Command: <code>${escapeXml(command.slice('Command: '.length))}</code></p>`,
    ...rest.map((l) => para(l)),
    section('Schedule', list(r.schedule)),
    section('Test metrics', para(METRICS_NOTE, 'note'), htmlTable(metricsTable(r)), para(COST_NOTE, 'note')),
    r.paired.length > 0
      ? section(
          `${r.settings.mainSampler} against each method, seed by seed`,
          para(pairedNote(r), 'note'),
          htmlTable(pairedTable(r)),
        )
      : '',
    section(
      'Per-class test accuracy of the best methods (%, mean over seeds)',
      htmlTable(perClassTable(r)),
      r.best.length > 0 ? figure(perClassChart(r)) : '',
    ),
    section(
      'Generalization gap of the embeddings per class',
      para(GAP_NOTE, 'note'),
      ...(r.gap.length === 0 ? [para('(no backbone with the main sampler has finished yet)')] : []),
      ...gapTables(r).map((g) => `<h3>${escapeXml(g.title)}</h3>\n${htmlTable(g.table)}`),
      ...gapCharts(r).map(figure),
    ),
    section(
      'Phase-1 training',
      htmlTable(curvesTable(r)),
      `<div class="charts">\n${curvesCharts(r).map(figure).join('\n')}\n</div>`,
    ),
  ];
  const fallbacks = fallbackLines(r);
  if (fallbacks.length > 0) body.push(section('Sampler fallbacks', list(fallbacks)));
  const failures = failureLines(r);
  if (failures.length > 0) body.push(section('Units without a result', list(failures)));
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8"/>',
    `<title>${escapeXml(r.title)}${r.partial ? ' (partial)' : ''}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    ...body.filter((b) => b.length > 0),
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
