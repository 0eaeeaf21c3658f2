// Phases 2 and 3 on embeddings that no backbone trained here produced: a user's ONNX backbone's
// (run-on-backbone.ts) or embeddings computed elsewhere (`eos fit-head`). Every method is fitted as in a
// three-phase run (fit-methods.ts) and the run directory gets results.json, results.md and the main method's
// head as head.safetensors.
import { describeSkipped } from '../data/folder-bad-images.js';
import type { BadImage } from '../data/folder-types.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import { gapAgainstRealSpread } from '../metrics/generalization-gap.js';
import { type Tensor, writeSafetensors } from '../model/safetensors.js';
import type { FineTunedHead } from '../train/fine-tune-head.js';
import type { RunConfig } from './config.js';
import { embeddingGap } from './evaluate.js';
import { fitMethods } from './fit-methods.js';
import type { MethodFailure } from './method-checks.js';
import {
  classLabeller,
  gapSection,
  methodColumns,
  metricsSection,
  notesSections,
  perClassSection,
} from './report.js';
import { runPaths } from './run-paths.js';
import type { MethodResult, PipelineEvent, RunEmbeddings, RunLabels, RunResult } from './types.js';

export type HeadsSource =
  | { kind: 'onnx-backbone'; model: string; embeddingOutput: string }
  | { kind: 'embeddings'; train: string; test: string };

export interface HeadsInput {
  source: HeadsSource;
  embeddings: RunEmbeddings;
  data: RunLabels & { counts: number[] };
  classNames?: string[];
  /** Comparison methods the label check ruled out before the embeddings were computed. */
  skipped: MethodFailure[];
  embedSeconds: number;
}

export interface HeadsRunResult {
  config: RunConfig;
  source: HeadsSource;
  data: {
    train: number;
    test: number;
    validation: number;
    classCounts: number[];
    dim: number;
    /** Image files left out by skipBadImages (a run on an ONNX backbone over an image folder). */
    skipped?: { count: number; first: BadImage[] };
  };
  methods: MethodResult[];
  failedMethods: MethodFailure[];
  gap: RunResult['gap'];
  seconds: { total: number; embed: number };
  files: Record<string, string>;
}

export function formatHeadsReport(r: HeadsRunResult, classNames?: string[]): string {
  const from =
    r.source.kind === 'onnx-backbone'
      ? `the embeddings of ${r.source.model} (output ${r.source.embeddingOutput})`
      : `the embeddings in ${r.source.train} and ${r.source.test}`;
  const label = classLabeller(r.data.classCounts, classNames);
  const columns = methodColumns(r.methods, r.config.sampler);
  return [
    `# eos: phases 2 and 3 on ${from}`,
    '',
    `Training rows: ${r.data.train} (per class ${r.data.classCounts.join(', ')}); test rows: ${r.data.test}` +
      (r.data.validation ? `; validation rows: ${r.data.validation}` : '') +
      `; embedding width ${r.data.dim}. Every number below is on the test set, which no step selects on.` +
      (r.data.skipped?.count ? ` ${describeSkipped(r.data.skipped.first, 10, r.data.skipped.count)}.` : ''),
    `Phase 3: ${r.config.phase3.epochs} epochs of a fresh head per method. Total ${r.seconds.total.toFixed(0)} s ` +
      `(embedding ${r.seconds.embed.toFixed(0)} s).`,
    '',
    ...metricsSection(columns),
    ...perClassSection(columns, r.data.classCounts, label),
    ...gapSection(r.gap, label),
    ...notesSections(r),
  ].join('\n');
}

/** The head as a safetensors file, with the names a PyTorch model's classifier has. */
export function writeHead(path: string, head: FineTunedHead, classNames?: string[]): void {
  const shape = head.head === 'linear' ? [head.classes, head.dim] : [head.dim, head.classes];
  const tensors: Record<string, Tensor> = { 'linear.weight': { dtype: 'F32', shape, data: head.weight } };
  if (head.bias) tensors['linear.bias'] = { dtype: 'F32', shape: [head.classes], data: head.bias };
  writeSafetensors(path, tensors, {
    'eos.head': head.head,
    'eos.classes': String(head.classes),
    'eos.dim': String(head.dim),
    ...(classNames ? { 'eos.class_names': JSON.stringify(classNames) } : {}),
  });
}

export async function fitAndWriteHeads(
  config: RunConfig,
  input: HeadsInput,
  started: number,
  emit: (e: PipelineEvent) => void,
  signal?: AbortSignal,
): Promise<{ result: HeadsRunResult; head: FineTunedHead }> {
  const { embeddings, data } = input;
  const paths = runPaths(config.outDir);
  emit({ kind: 'phase', phase: 'phase2+3', message: 'phase 2 + 3 for every method on the same embeddings' });
  const fitted = await fitMethods(config, embeddings, data, input.skipped, emit, signal);
  const test = { embeddings: embeddings.test, labels: data.test.labels };
  const before = embeddingGap(
    { embeddings: embeddings.train, labels: data.train.labels },
    test,
    data.classes,
  );
  const after = embeddingGap(
    { embeddings: fitted.main.resampled.x, labels: fitted.main.resampled.y },
    test,
    data.classes,
  );
  emit({ kind: 'phase', phase: 'save', message: 'saving the head and the results' });
  writeHead(paths.head, fitted.main.head, input.classNames);
  const result: HeadsRunResult = {
    config,
    source: input.source,
    data: {
      train: data.train.labels.length,
      test: data.test.labels.length,
      validation: data.validation?.labels.length ?? 0,
      classCounts: data.counts,
      dim: embeddings.train.length / data.train.labels.length,
    },
    methods: fitted.methods,
    failedMethods: fitted.failedMethods,
    gap: { before, after: gapAgainstRealSpread(before, after), sampler: config.sampler },
    seconds: { total: (performance.now() - started) / 1000, embed: input.embedSeconds },
    files: { config: paths.config, head: paths.head, results: paths.results, report: paths.report },
  };
  return { result, head: fitted.main.head };
}

/** results.json and results.md of a heads run (after any other file it names is written). */
export function writeHeadsResult(result: HeadsRunResult, classNames?: string[]): void {
  const paths = runPaths(result.config.outDir);
  writeFileAtomic(paths.results, [Buffer.from(`${JSON.stringify(result, null, 2)}\n`)]);
  writeFileAtomic(paths.report, [Buffer.from(formatHeadsReport(result, classNames))]);
}
