// The whole method on one data set: phase 1 (train the CNN), phase 2 (resample its embeddings), phase 3
// (a fresh head on the balanced embeddings), evaluated on the untouched test set. Phases 2 and 3 cost seconds,
// so besides the main sampler the run fits heads for `compareWith` on the same backbone: the report shows what
// the main method adds over no resampling, ROS and SMOTE on the user's own data.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Dataset } from '../data/dataset.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import type { ClassificationMetrics } from '../metrics/classification.js';
import {
  type GeneralizationGap,
  gapAgainstRealSpread,
  generalizationGap,
} from '../metrics/generalization-gap.js';
import { exportOnnx } from '../model/onnx-export.js';
import { EMBEDDING_SIZE } from '../model/spec.js';
import { type FineTunedHead, headLogits } from '../train/fine-tune-head.js';
import type { EpochRecord } from '../train/phase1.js';
import type { RunConfig } from './config.js';
import { scoreLogits } from './evaluate.js';
import { fitMethod } from './fit-method.js';
import { createModel, prepareData } from './prepare-data.js';
import { formatReport } from './report.js';
import type { SamplerName } from './samplers.js';
import { RunAborted, trainBackbone } from './train-backbone.js';

export { RunAborted };

export type PipelineEvent =
  | { kind: 'phase'; phase: 'data' | 'phase1' | 'embed' | 'phase2+3' | 'save'; message: string }
  | {
      kind: 'batch';
      epoch: number;
      epochs: number;
      batches: number;
      batchesTotal: number;
      loss: number;
      accuracy: number;
    }
  | { kind: 'epoch'; epochs: number; record: EpochRecord }
  | { kind: 'method'; name: string; balancedAccuracy: number };

export interface MethodResult {
  name: string;
  /** Rows added by phase 2. */
  synthetic: number;
  fallbacks: string[];
  seconds: { resample: number; phase3: number };
  test: ClassificationMetrics;
  validation?: ClassificationMetrics;
  /** Mean loss of the last phase-3 epoch. */
  finalLoss: number;
}

export interface RunResult {
  config: RunConfig;
  data: {
    train: number;
    test: number;
    validation: number;
    classCounts: number[];
    normalization: { mean: number[]; std: number[] };
  };
  backend: string;
  phase1: {
    history: EpochRecord[];
    seconds: number;
    resumedFrom: { epoch: number; batch: number } | null;
    test: ClassificationMetrics;
  };
  methods: MethodResult[];
  /** Generalization gap of the embeddings: real training set vs test, and with the main sampler's synthetic rows. */
  gap: { before: GeneralizationGap; after: GeneralizationGap; sampler: SamplerName };
  seconds: { total: number; embed: number };
  files: Record<string, string>;
}

export interface RunOptions {
  resume?: boolean;
  signal?: AbortSignal;
  onEvent?: (e: PipelineEvent) => void;
}

export { type Phase1OnlyResult, runPhase1Only } from './train-backbone.js';

function batchOf(d: Dataset) {
  return { images: d.images, shape: d.shape };
}

export async function runThreePhase(config: RunConfig, options: RunOptions = {}): Promise<RunResult> {
  const started = performance.now();
  const emit = options.onEvent ?? (() => {});
  const out = config.outDir;
  mkdirSync(join(out, 'checkpoints'), { recursive: true });
  writeFileAtomic(join(out, 'config.json'), [Buffer.from(`${JSON.stringify(config, null, 2)}\n`)]);

  emit({ kind: 'phase', phase: 'data', message: `loading ${config.dataset}` });
  const runData = await prepareData(config);
  const { train, test, classes, counts, normalization } = runData;
  const validation = runData.validation ?? undefined;
  const model = createModel(config, runData);
  try {
    const {
      p1,
      seconds: p1Seconds,
      checkpoint,
      phase1Model,
    } = await trainBackbone(config, runData, model, {
      resume: options.resume,
      signal: options.signal,
      emit,
    });

    emit({ kind: 'phase', phase: 'embed', message: 'embedding the training and test sets' });
    const embedStart = performance.now();
    const trainEmb = await model.embed(batchOf(train), options.signal);
    const testOut = await model.predict(batchOf(test), {
      logits: true,
      embeddings: true,
      signal: options.signal,
    });
    const valEmb = validation ? await model.embed(batchOf(validation), options.signal) : null;
    const embedSeconds = (performance.now() - embedStart) / 1000;
    const testEmb = testOut.embeddings!;
    const phase1Test = scoreLogits(testOut.logits!, test.labels, classes);

    emit({ kind: 'phase', phase: 'phase2+3', message: 'phase 2 + 3 for every method on the same backbone' });
    const names = [config.sampler, ...config.compareWith.filter((n) => n !== config.sampler)];
    const methods: MethodResult[] = [];
    let mainHead: FineTunedHead | null = null;
    let gapAfter: GeneralizationGap | null = null;
    for (const name of names) {
      const {
        resampled,
        head: fitted,
        seconds,
      } = await fitMethod(name, trainEmb, train.labels, classes, config, options.signal);
      const result: MethodResult = {
        name,
        synthetic: resampled.y.length - train.labels.length,
        fallbacks: resampled.fallbacks.map((f) => f.message),
        seconds,
        test: scoreLogits(headLogits(fitted, testEmb), test.labels, classes),
        validation:
          valEmb && validation
            ? scoreLogits(headLogits(fitted, valEmb), validation.labels, classes)
            : undefined,
        finalLoss: fitted.losses[fitted.losses.length - 1],
      };
      methods.push(result);
      emit({ kind: 'method', name, balancedAccuracy: result.test.balancedAccuracy });
      if (name === config.sampler) {
        mainHead = fitted;
        gapAfter = generalizationGap(
          { embeddings: resampled.x, labels: resampled.y },
          { embeddings: testEmb, labels: test.labels },
          { dim: EMBEDDING_SIZE, classes },
        );
      }
    }
    const gapBefore = generalizationGap(
      { embeddings: trainEmb, labels: train.labels },
      { embeddings: testEmb, labels: test.labels },
      { dim: EMBEDDING_SIZE, classes },
    );
    gapAfter = gapAgainstRealSpread(gapBefore, gapAfter!);

    emit({ kind: 'phase', phase: 'save', message: 'saving the final model' });
    model.setHead(mainHead!);
    const finalModel = join(out, 'model.safetensors');
    const onnx = join(out, 'model.onnx');
    model.save(finalModel);
    exportOnnx(model.snapshot(), onnx, { outputs: ['logits', 'embedding'] });
    const files = {
      config: join(out, 'config.json'),
      checkpoint,
      phase1Model,
      model: finalModel,
      onnx,
      results: join(out, 'results.json'),
      report: join(out, 'results.md'),
    };
    const result: RunResult = {
      config,
      data: {
        train: train.labels.length,
        test: test.labels.length,
        validation: validation?.labels.length ?? 0,
        classCounts: counts,
        normalization,
      },
      backend: model.backend,
      phase1: { history: p1.history, seconds: p1Seconds, resumedFrom: p1.resumedFrom, test: phase1Test },
      methods,
      gap: { before: gapBefore, after: gapAfter!, sampler: config.sampler },
      seconds: { total: (performance.now() - started) / 1000, embed: embedSeconds },
      files,
    };
    writeFileAtomic(files.results, [Buffer.from(`${JSON.stringify(result, null, 2)}\n`)]);
    writeFileAtomic(files.report, [Buffer.from(formatReport(result, runData.classNames))]);
    return result;
  } finally {
    model.dispose();
  }
}
