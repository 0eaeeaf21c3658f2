// Writes a comparison report as results.json, results.md and results.html (each atomically, so a reader or
// a kill never sees half a page).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic-write.js';
import type { ComparisonReport } from './aggregate.js';
import { renderHtml } from './render-html.js';
import { renderMarkdown } from './render-markdown.js';

export interface ReportFiles {
  json: string;
  markdown: string;
  html: string;
}

export function writeReports(outDir: string, report: ComparisonReport): ReportFiles {
  mkdirSync(outDir, { recursive: true });
  const files = {
    json: join(outDir, 'results.json'),
    markdown: join(outDir, 'results.md'),
    html: join(outDir, 'results.html'),
  };
  writeFileAtomic(files.json, [Buffer.from(`${JSON.stringify(report, null, 1)}\n`)]);
  writeFileAtomic(files.markdown, [Buffer.from(renderMarkdown(report))]);
  writeFileAtomic(files.html, [Buffer.from(renderHtml(report))]);
  return files;
}
