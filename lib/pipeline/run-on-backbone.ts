// Phases 2 and 3 on a user's own pretrained backbone (an ONNX model) instead of one trained here: load the data
// set and carve the run's imbalanced split as a three-phase run does, embed every split with the backbone
// through onnxruntime-node, fit every method on those embeddings, and write the main method's head alone and
// joined to the backbone as one ONNX model (raw pixels in, logits and embedding out) that `eos serve` serves.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import * as ort from 'onnxruntime-node';
import { backboneWithHead } from '../backbone/backbone-head-onnx.js';
import { OnnxBackbone, type OnnxBackboneOptions } from '../backbone/onnx-backbone.js';
import type { Dataset } from '../data/types.js';
import { COSINE_LOGIT_SCALE } from '../defaults.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import { checkRunStart } from './check-run-start.js';
import type { RunConfig } from './config.js';
import { fitAndWriteHeads, type HeadsRunResult, writeHeadsResult } from './heads-run.js';
import { checkMethodsOnLabels } from './method-checks.js';
import { prepareData } from './prepare-data.js';
import { startRunDirectory } from './run-outputs.js';
import { runPaths } from './run-paths.js';
import type { RunEmbeddings, RunOptions } from './types.js';

export interface BackboneChoice extends OnnxBackboneOptions {
  /** The ONNX model file. */
  model: string;
}

export async function runOnBackbone(
  config: RunConfig,
  backbone: BackboneChoice,
  options: Omit<RunOptions, 'resume'> = {},
): Promise<HeadsRunResult> {
  const started = performance.now();
  const emit = options.onEvent ?? (() => {});
  checkRunStart(config, { resume: false });
  const paths = runPaths(config.outDir);
  const model = await OnnxBackbone.load(backbone.model, {
    ...backbone,
    threads: config.threads || undefined,
  });
  try {
    emit({ kind: 'phase', phase: 'data', message: `loading ${config.dataset}` });
    const data = await prepareData(config, {
      onProgress: (p) => emit({ kind: 'data', ...p }),
      signal: options.signal,
    });
    const [, channels, side] = data.train.shape;
    const graph = model.graphFor(channels, side); // refuses a data set the model cannot take
    const skipped = checkMethodsOnLabels(config, data.train.labels);
    for (const f of skipped) emit({ kind: 'method-failed', ...f });
    startRunDirectory(paths, config, false);

    emit({ kind: 'phase', phase: 'embed', message: `embedding every split with ${backbone.model}` });
    const t0 = performance.now();
    const embed = async (d: Dataset) =>
      (await model.embed(d.images, d.shape, { signal: options.signal })).embeddings;
    const embeddings: RunEmbeddings = {
      train: await embed(data.train),
      test: await embed(data.test),
      validation: data.validation ? await embed(data.validation) : null,
    };
    const embedSeconds = (performance.now() - t0) / 1000;

    const { result, head } = await fitAndWriteHeads(
      config,
      {
        source: { kind: 'onnx-backbone', model: backbone.model, embeddingOutput: model.outputName },
        embeddings,
        data,
        classNames: data.classNames,
        skipped,
        embedSeconds,
      },
      started,
      emit,
      options.signal,
    );
    if (data.skipped?.length)
      result.data.skipped = { count: data.skipped.length, first: data.skipped.slice(0, 10) };
    writeHeadsResult(result, data.classNames); // the head and its scores stand even if joining fails
    const bytes = backboneWithHead(readFileSync(backbone.model), graph, head, {
      'eos.classes': String(head.classes),
      'eos.input_shape': JSON.stringify([channels, side, side]),
      'eos.input': 'float32 NCHW raw pixel values in [0, 255]; the input transform is inside the graph',
      'eos.logit_scale': String(head.head === 'cosine' ? COSINE_LOGIT_SCALE : 1),
      'eos.embedding_dim': String(head.dim),
      'eos.backbone': basename(backbone.model),
      'eos.embedding_output': model.outputName,
      ...(data.classNames ? { 'eos.class_names': JSON.stringify(data.classNames) } : {}),
    });
    // What onnxruntime cannot load must not be left as the run's model.
    try {
      await (await ort.InferenceSession.create(bytes)).release();
    } catch (err) {
      throw new Error(
        `${backbone.model}: the backbone joined to its head does not load in onnxruntime ` +
          `(${String((err as Error).message).split('\n')[0]}); the head alone is in ${paths.head}`,
      );
    }
    writeFileAtomic(paths.onnx, [bytes]);
    result.files.onnx = paths.onnx;
    result.seconds.total = (performance.now() - started) / 1000;
    writeHeadsResult(result, data.classNames);
    return result;
  } finally {
    await model.release();
  }
}
