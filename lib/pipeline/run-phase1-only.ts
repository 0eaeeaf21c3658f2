// `eos train`: the data and backbone steps of a run, nothing more.
import { checkRunStart } from './check-run-start.js';
import type { RunConfig } from './config.js';
import { prepareData } from './prepare-data.js';
import { startRunDirectory } from './run-outputs.js';
import { runPaths } from './run-paths.js';
import { createModel, trainBackbone } from './train-backbone.js';
import type { Phase1OnlyResult, RunOptions } from './types.js';

export async function runPhase1Only(config: RunConfig, options: RunOptions = {}): Promise<Phase1OnlyResult> {
  const emit = options.onEvent ?? (() => {});
  checkRunStart(config, options);
  const paths = runPaths(config.outDir);
  emit({ kind: 'phase', phase: 'data', message: `loading ${config.dataset}` });
  const data = await prepareData(config, {
    onProgress: (p) => emit({ kind: 'data', ...p }),
    signal: options.signal,
  });
  startRunDirectory(paths, config);
  const model = createModel(config, data);
  try {
    const r = await trainBackbone(config, data, model, {
      resume: options.resume,
      signal: options.signal,
      emit,
    });
    return {
      backend: model.backend,
      history: r.p1.history,
      seconds: r.seconds,
      files: { config: paths.config, checkpoint: r.checkpoint, phase1Model: r.phase1Model },
    };
  } finally {
    model.dispose();
  }
}
