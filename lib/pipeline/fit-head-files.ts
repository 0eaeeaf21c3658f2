// `eos fit-head`: phases 2 and 3 on embeddings computed elsewhere (in Python, say), given as NPY files: an
// [N, D] float32 matrix and N integer labels for the training and the test rows. Checked as a run checks its
// data before any fitting: shapes that agree, finite values, labels 0..C-1 with every class in training.

import { classCounts } from '../data/dataset-ops.js';
import { readNpyLabels, readNpyMatrix } from '../data/npy.js';
import { LIMITS } from '../defaults.js';
import { checkRunStart } from './check-run-start.js';
import type { RunConfig } from './config.js';
import { fitAndWriteHeads, type HeadsRunResult, writeHeadsResult } from './heads-run.js';
import { checkMethodsOnLabels } from './method-checks.js';
import { startRunDirectory } from './run-outputs.js';
import { runPaths } from './run-paths.js';
import type { RunOptions } from './types.js';

export interface EmbeddingFiles {
  train: string;
  trainLabels: string;
  test: string;
  testLabels: string;
}

async function readSplit(matrix: string, labelsPath: string) {
  const x = await readNpyMatrix(matrix);
  if (x.rows < 1 || x.cols < 1)
    throw new Error(`${matrix}: expected [N, D] embeddings, got ${x.rows} x ${x.cols}`);
  const y = await readNpyLabels(labelsPath);
  if (y.length !== x.rows)
    throw new Error(`${labelsPath}: ${y.length} labels for the ${x.rows} rows of ${matrix}`);
  for (let i = 0; i < x.data.length; i++) {
    if (!Number.isFinite(x.data[i])) {
      throw new Error(`${matrix}: row ${Math.floor(i / x.cols)} has a non-finite value (${x.data[i]})`);
    }
  }
  return { x, y };
}

export async function fitHeadOnFiles(
  config: RunConfig,
  files: EmbeddingFiles,
  options: Omit<RunOptions, 'resume'> = {},
): Promise<HeadsRunResult> {
  const started = performance.now();
  const emit = options.onEvent ?? (() => {});
  checkRunStart(config, { resume: false });
  const train = await readSplit(files.train, files.trainLabels);
  const test = await readSplit(files.test, files.testLabels);
  if (test.x.cols !== train.x.cols) {
    throw new Error(
      `${files.test}: ${test.x.cols} columns, but the training embeddings (${files.train}) have ${train.x.cols}`,
    );
  }
  let classes = 0;
  for (const label of train.y) classes = Math.max(classes, label + 1);
  if (classes > LIMITS.classes) {
    throw new Error(
      `${files.trainLabels}: label ${classes - 1} is beyond the ${LIMITS.classes} classes a run supports`,
    );
  }
  if (classes < 2)
    throw new Error(`${files.trainLabels}: every training row has label 0; a classifier needs 2 classes`);
  const counts = classCounts(train.y, classes);
  const absent = counts.indexOf(0);
  if (absent >= 0) {
    throw new Error(
      `${files.trainLabels}: no training row has label ${absent}; labels must be 0..C-1 with every class present`,
    );
  }
  const unseen = test.y.find((label) => label >= classes);
  if (unseen !== undefined) {
    throw new Error(
      `${files.testLabels}: label ${unseen} does not occur in training (labels 0..${classes - 1})`,
    );
  }
  const skipped = checkMethodsOnLabels(config, train.y);
  for (const f of skipped) emit({ kind: 'method-failed', ...f });
  startRunDirectory(runPaths(config.outDir), config, false);
  const { result } = await fitAndWriteHeads(
    config,
    {
      source: { kind: 'embeddings', train: files.train, test: files.test },
      embeddings: { train: train.x.data, test: test.x.data, validation: null },
      data: { train: { labels: train.y }, test: { labels: test.y }, validation: null, classes, counts },
      skipped,
      embedSeconds: 0,
    },
    started,
    emit,
    options.signal,
  );
  writeHeadsResult(result);
  return result;
}
