// Charts as static inline SVG, written by hand: no chart library, no script, no network, so the HTML report
// reads offline and diffs as text. Two kinds: grouped bars (per-class values of a few series) and lines
// (a value per epoch). Colours are the Okabe-Ito palette, distinguishable with the common colour-vision
// deficiencies.

export const PALETTE = [
  '#0072B2',
  '#E69F00',
  '#009E73',
  '#D55E00',
  '#CC79A7',
  '#56B4E9',
  '#000000',
  '#F0E442',
];
const DASHES = ['', '6 3', '2 3', '8 3 2 3', '1 2'];

export function escapeXml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

const fmt = (v: number) => (Math.round(v * 100) / 100).toString();

/** About `count` round tick values; the first is <= min and the last >= max, so they frame the data. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!(max > min)) return [min];
  const raw = (max - min) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw;
  const ticks: number[] = [];
  const last = Math.ceil(max / step - 1e-9) * step;
  for (let v = Math.floor(min / step + 1e-9) * step; v <= last + step * 1e-9; v += step)
    ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

/** The category labels in full when they fit their group's width, else their first word (the class index). */
function fitLabels(labels: string[], groupWidth: number): string[] {
  const fits = labels.every((l) => l.length * 6.2 <= groupWidth - 4);
  return fits ? labels : labels.map((l) => l.split(' ')[0]);
}

interface Frame {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

function svgOpen(f: Frame, title: string): string[] {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${f.width}" height="${f.height}" viewBox="0 0 ${f.width} ${f.height}" role="img" aria-label="${escapeXml(title)}" font-family="sans-serif" font-size="11">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect x="0" y="0" width="${f.width}" height="${f.height}" fill="#ffffff"/>`,
    `<text x="${f.width / 2}" y="16" text-anchor="middle" font-size="13" font-weight="bold">${escapeXml(title)}</text>`,
  ];
}

function yAxis(f: Frame, ticks: number[], y: (v: number) => number, label: string): string[] {
  const out = [
    `<line x1="${f.left}" y1="${f.top}" x2="${f.left}" y2="${f.height - f.bottom}" stroke="#333333"/>`,
    `<text transform="translate(14 ${fmt((f.top + f.height - f.bottom) / 2)}) rotate(-90)" text-anchor="middle">${escapeXml(label)}</text>`,
  ];
  for (const t of ticks) {
    const ty = fmt(y(t));
    out.push(
      `<line x1="${f.left}" y1="${ty}" x2="${f.width - f.right}" y2="${ty}" stroke="#dddddd"/>`,
      `<text x="${f.left - 4}" y="${ty}" text-anchor="end" dominant-baseline="middle">${escapeXml(String(t))}</text>`,
    );
  }
  return out;
}

function legend(f: Frame, entries: { name: string; color: string; dash?: string }[]): string[] {
  const out: string[] = [];
  let x = f.left;
  let row = 0;
  for (const e of entries) {
    const w = 28 + 6.5 * e.name.length;
    if (x + w > f.width - f.right && x > f.left) {
      x = f.left;
      row++;
    }
    const y = f.height - f.bottom + 36 + row * 16;
    out.push(
      `<line x1="${fmt(x)}" y1="${y}" x2="${fmt(x + 18)}" y2="${y}" stroke="${e.color}" stroke-width="6"${e.dash ? ` stroke-dasharray="${e.dash}"` : ''}/>`,
      `<text x="${fmt(x + 22)}" y="${y}" dominant-baseline="middle">${escapeXml(e.name)}</text>`,
    );
    x += w;
  }
  return out;
}

export interface BarSeries {
  name: string;
  values: (number | null)[];
}

/** Grouped bars: one group per category, one bar per series; null values leave a gap. */
export function groupedBarChart(options: {
  title: string;
  categories: string[];
  series: BarSeries[];
  yLabel: string;
  /** Upper end of the axis (default: the largest value, rounded up to a tick). */
  yMax?: number;
  /** Multiplies every value for display (100 for fractions shown as %). */
  scale?: number;
}): string {
  const scale = options.scale ?? 1;
  const { categories, series } = options;
  const legendRows = Math.ceil(series.reduce((s, e) => s + 28 + 6.5 * e.name.length, 0) / 640);
  const f: Frame = {
    width: Math.max(640, 70 + categories.length * (series.length * 12 + 16)),
    height: 300 + legendRows * 16,
    left: 56,
    right: 12,
    top: 28,
    bottom: 48 + legendRows * 16,
  };
  const values = series.flatMap((s) => s.values).filter((v): v is number => v !== null && Number.isFinite(v));
  const dataMax = values.length > 0 ? Math.max(...values) * scale : 1;
  const ticks = niceTicks(0, options.yMax ?? (dataMax > 0 ? dataMax : 1));
  const top = Math.max(options.yMax ?? 0, ticks[ticks.length - 1] ?? 1, dataMax);
  const plotH = f.height - f.top - f.bottom;
  const y = (v: number) => f.top + plotH * (1 - v / top);
  const groupW = (f.width - f.left - f.right) / Math.max(categories.length, 1);
  const barW = Math.max(2, Math.min(18, (groupW - 8) / Math.max(series.length, 1)));
  const out = [...svgOpen(f, options.title), ...yAxis(f, ticks, y, options.yLabel)];
  const shown = fitLabels(categories, groupW);
  categories.forEach((category, c) => {
    const x0 = f.left + c * groupW + (groupW - barW * series.length) / 2;
    series.forEach((s, i) => {
      const v = s.values[c];
      if (v === null || v === undefined || !Number.isFinite(v)) return;
      const h = Math.max(0, y(0) - y(v * scale));
      out.push(
        `<rect x="${fmt(x0 + i * barW)}" y="${fmt(y(0) - h)}" width="${fmt(barW - 1)}" height="${fmt(h)}" fill="${PALETTE[i % PALETTE.length]}"><title>${escapeXml(`${s.name}, ${category}: ${fmt(v * scale)}`)}</title></rect>`,
      );
    });
    out.push(
      `<text x="${fmt(f.left + (c + 0.5) * groupW)}" y="${fmt(y(0) + 14)}" text-anchor="middle">${escapeXml(shown[c])}</text>`,
    );
  });
  out.push(
    `<line x1="${f.left}" y1="${fmt(y(0))}" x2="${f.width - f.right}" y2="${fmt(y(0))}" stroke="#333333"/>`,
  );
  out.push(
    ...legend(
      f,
      series.map((s, i) => ({ name: s.name, color: PALETTE[i % PALETTE.length] })),
    ),
  );
  out.push('</svg>');
  return out.join('\n');
}

export interface LineSeries {
  name: string;
  values: number[];
  /** Colour index (series of one group share a colour) and dash index (e.g. the seed). */
  color: number;
  dash: number;
}

/** Lines over x = 1..n (epochs); the legend lists `legendEntries` (defaults to one per series). */
export function lineChart(options: {
  title: string;
  series: LineSeries[];
  xLabel: string;
  yLabel: string;
  legendEntries?: { name: string; color: number; dash: number }[];
  width?: number;
  height?: number;
}): string {
  const width = options.width ?? 640;
  const entries = (options.legendEntries ?? options.series).map((e) => ({
    name: e.name,
    color: PALETTE[e.color % PALETTE.length],
    dash: DASHES[e.dash % DASHES.length],
  }));
  const legendRows = Math.ceil(entries.reduce((s, e) => s + 28 + 6.5 * e.name.length, 0) / (width - 72));
  const f: Frame = {
    width,
    height: (options.height ?? 320) + legendRows * 16,
    left: 56,
    right: 16,
    top: 28,
    bottom: 48 + legendRows * 16,
  };
  const all = options.series.flatMap((s) => s.values).filter((v) => Number.isFinite(v));
  const n = Math.max(1, ...options.series.map((s) => s.values.length));
  const lo = all.length > 0 ? Math.min(0, ...all) : 0;
  const ticks = niceTicks(lo, all.length > 0 ? Math.max(...all) : 1);
  const hi = Math.max(ticks[ticks.length - 1] ?? 1, lo + 1e-9);
  const plotW = f.width - f.left - f.right;
  const plotH = f.height - f.top - f.bottom;
  const x = (epoch: number) => f.left + (n === 1 ? plotW / 2 : (plotW * (epoch - 1)) / (n - 1));
  const y = (v: number) => f.top + plotH * (1 - (v - lo) / (hi - lo));
  const out = [...svgOpen(f, options.title), ...yAxis(f, ticks, y, options.yLabel)];
  for (const t of niceTicks(1, n, Math.min(10, n - 1 || 1)).filter((t) => Number.isInteger(t))) {
    out.push(`<text x="${fmt(x(t))}" y="${fmt(f.height - f.bottom + 14)}" text-anchor="middle">${t}</text>`);
  }
  out.push(
    `<line x1="${f.left}" y1="${f.height - f.bottom}" x2="${f.width - f.right}" y2="${f.height - f.bottom}" stroke="#333333"/>`,
    `<text x="${fmt(f.left + plotW / 2)}" y="${f.height - f.bottom + 28}" text-anchor="middle">${escapeXml(options.xLabel)}</text>`,
  );
  for (const s of options.series) {
    const points = s.values
      .map((v, i) => (Number.isFinite(v) ? `${fmt(x(i + 1))},${fmt(y(v))}` : null))
      .filter((p): p is string => p !== null);
    if (points.length === 0) continue;
    const color = PALETTE[s.color % PALETTE.length];
    const dash = DASHES[s.dash % DASHES.length];
    const shape =
      points.length === 1
        ? `<circle cx="${points[0].split(',')[0]}" cy="${points[0].split(',')[1]}" r="3" fill="${color}">`
        : `<polyline points="${points.join(' ')}" fill="none" stroke="${color}" stroke-width="1.5"${dash ? ` stroke-dasharray="${dash}"` : ''}>`;
    out.push(
      `${shape}<title>${escapeXml(s.name)}</title>${points.length === 1 ? '</circle>' : '</polyline>'}`,
    );
  }
  out.push(...legend({ ...f, bottom: f.bottom - 14 }, entries));
  out.push('</svg>');
  return out.join('\n');
}
