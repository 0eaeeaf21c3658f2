// Phases 2 and 3 for every method of a run on one backbone's embeddings: the main sampler first, then the
// comparison methods. The main method's failure (or an interruption) ends the run; a comparison method that
// fails is recorded with its reason and the others go on. Shared by runThreePhase, a run on a user's ONNX
// backbone and `eos fit-head`, so the three report the same things in the same way.
import { isAbortError } from '../native.js';
import type { ResampleResult } from '../resample/types.js';
import type { FineTunedHead } from '../train/fine-tune-head.js';
import type { RunConfig } from './config.js';
import { fitAndScoreMethod } from './fit-method.js';
import { type MethodFailure, runMethods } from './method-checks.js';
import type { MethodResult, PipelineEvent, RunEmbeddings, RunLabels } from './types.js';

export interface FittedMethods {
  methods: MethodResult[];
  /** `skipped` (methods the label check ruled out) and the methods that failed here. */
  failedMethods: MethodFailure[];
  main: { head: FineTunedHead; resampled: ResampleResult };
}

export async function fitMethods(
  config: RunConfig,
  embeddings: RunEmbeddings,
  data: RunLabels,
  skipped: MethodFailure[],
  emit: (e: PipelineEvent) => void,
  signal?: AbortSignal,
): Promise<FittedMethods> {
  const failedMethods = [...skipped];
  const ruledOut = new Set(skipped.map((f) => f.name));
  const methods: MethodResult[] = [];
  let main: FittedMethods['main'] | null = null;
  for (const name of runMethods(config).filter((n) => !ruledOut.has(n))) {
    try {
      const fitted = await fitAndScoreMethod(name, name, embeddings, data, config, signal);
      methods.push(fitted.result);
      emit({ kind: 'method', name, balancedAccuracy: fitted.result.test.balancedAccuracy });
      if (name === config.sampler) main = { head: fitted.head, resampled: fitted.resampled };
    } catch (err) {
      if (name === config.sampler || isAbortError(err)) throw err;
      const failure = { name, message: (err as Error).message };
      failedMethods.push(failure);
      emit({ kind: 'method-failed', ...failure });
    }
  }
  // The main sampler is never ruled out (checkMethodsOnLabels throws instead), so it was fitted.
  return { methods, failedMethods, main: main! };
}
