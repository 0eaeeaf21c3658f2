// The whole method on one data set: phase 1 (train the CNN), phase 2 (resample its embeddings), phase 3
// (a fresh head on the balanced embeddings), evaluated on the untouched test set. Phases 2 and 3 cost seconds,
// so besides the main sampler the run fits heads for `compareWith` on the same backbone: the report shows what
// the main method adds over no resampling, ROS and SMOTE on the user's own data.
import { gapAgainstRealSpread } from '../metrics/generalization-gap.js';
import { checkRunStart } from './check-run-start.js';
import type { RunConfig } from './config.js';
import { embedBackbone } from './embed.js';
import { embeddingGap, scoreLogits } from './evaluate.js';
import { fitMethods } from './fit-methods.js';
import { checkMethodsOnLabels } from './method-checks.js';
import { prepareData } from './prepare-data.js';
import { saveFinalModel, startRunDirectory, writeRunResult } from './run-outputs.js';
import { runPaths } from './run-paths.js';
import { createModel, trainBackbone } from './train-backbone.js';
import type { RunOptions, RunResult } from './types.js';

export async function runThreePhase(config: RunConfig, options: RunOptions = {}): Promise<RunResult> {
  const started = performance.now();
  const emit = options.onEvent ?? (() => {});
  checkRunStart(config, options);
  const paths = runPaths(config.outDir);

  emit({ kind: 'phase', phase: 'data', message: `loading ${config.dataset}` });
  const data = await prepareData(config, {
    onProgress: (p) => emit({ kind: 'data', ...p }),
    signal: options.signal,
  });
  const { train, test, validation, classes } = data;
  const failedMethods = checkMethodsOnLabels(config, train.labels);
  for (const f of failedMethods) emit({ kind: 'method-failed', ...f });
  startRunDirectory(paths, config);
  const model = createModel(config, data);
  try {
    const backbone = await trainBackbone(config, data, model, {
      resume: options.resume,
      signal: options.signal,
      emit,
    });

    emit({ kind: 'phase', phase: 'embed', message: 'embedding the training and test sets' });
    const embedded = await embedBackbone(model, data, options.signal);
    const { embeddings } = embedded;
    const phase1Test = scoreLogits(embedded.testLogits, test.labels, classes);

    emit({ kind: 'phase', phase: 'phase2+3', message: 'phase 2 + 3 for every method on the same backbone' });
    const fitted = await fitMethods(config, embeddings, data, failedMethods, emit, options.signal);
    const gapAfter = embeddingGap(
      { embeddings: fitted.main.resampled.x, labels: fitted.main.resampled.y },
      { embeddings: embeddings.test, labels: test.labels },
      classes,
    );
    const gapBefore = embeddingGap(
      { embeddings: embeddings.train, labels: train.labels },
      { embeddings: embeddings.test, labels: test.labels },
      classes,
    );

    emit({ kind: 'phase', phase: 'save', message: 'saving the final model' });
    saveFinalModel(paths, model, fitted.main.head, data.classNames);
    const result: RunResult = {
      config,
      data: {
        train: train.labels.length,
        test: test.labels.length,
        validation: validation?.labels.length ?? 0,
        classCounts: data.counts,
        normalization: data.normalization,
        skipped: { count: data.skipped?.length ?? 0, first: data.skipped?.slice(0, 10) ?? [] },
      },
      backend: model.backend,
      phase1: {
        history: backbone.p1.history,
        seconds: backbone.seconds,
        resumedFrom: backbone.p1.resumedFrom,
        test: phase1Test,
      },
      methods: fitted.methods,
      failedMethods: fitted.failedMethods,
      gap: { before: gapBefore, after: gapAgainstRealSpread(gapBefore, gapAfter), sampler: config.sampler },
      seconds: { total: (performance.now() - started) / 1000, embed: embedded.seconds },
      files: {
        config: paths.config,
        checkpoint: backbone.checkpoint,
        phase1Model: backbone.phase1Model,
        model: paths.model,
        onnx: paths.onnx,
        results: paths.results,
        report: paths.report,
      },
    };
    writeRunResult(paths, result, data.classNames);
    return result;
  } finally {
    model.dispose();
  }
}
