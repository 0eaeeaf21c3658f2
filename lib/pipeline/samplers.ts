// The phase-2 samplers by the names the CLI and the comparison harness use: a table from name to factory.
// A sampler's own settings (EOS's coefficient bound, say) come with it as options; the run gives the seed,
// the threads and the neighbour count (`--k-neighbors`), which a sampler's own kNeighbors option overrides.
import { K_NEIGHBORS } from '../defaults.js';
import type { KnnDevice } from '../native.js';
import { ADASYN, BorderlineSMOTE, EOS, type EOSOptions, ROS, SMOTE } from '../resample/index.js';
import type { KnnChoice } from '../resample/knn-method.js';
import type { ResampleResult } from '../resample/types.js';
import { isSamplerName, type SamplerName, samplerNameError } from './sampler-names.js';

export { isSamplerName, SAMPLER_NAMES, type SamplerName, samplerNameError } from './sampler-names.js';
/** The same as SamplerName (the name it had while the harness's method keys were samplers too). */
export type SamplerId = SamplerName;

/** Each sampler's own settings. */
export interface SamplerSettings {
  none: Record<string, never>;
  ros: Record<string, never>;
  smote: { kNeighbors?: number };
  bsmote1: { kNeighbors?: number };
  bsmote2: { kNeighbors?: number };
  adasyn: { kNeighbors?: number };
  eos: Pick<EOSOptions, 'kNeighbors' | 'maxCoefficient' | 'reproduceReferenceScriptOffByOneBug'>;
}

/** A sampler with its own settings. */
export type SamplerChoice = { [S in SamplerId]: { sampler: S; options?: SamplerSettings[S] } }[SamplerId];

/** What the run gives every sampler. */
export interface RunSamplerSettings {
  seed: number;
  /** Neighbours (`--k-neighbors`); default: each sampler's own (K_NEIGHBORS). */
  kNeighbors?: number;
  threads?: number;
  /** The nearest-neighbour search (`--knn`; default exact). */
  knn?: KnnChoice;
  /** Where an exact search runs (default the CPU; 'cuda' where the run's backend is). */
  device?: KnnDevice;
}

interface Resampler {
  fitResample(x: Float32Array, y: Int32Array, d: number): Promise<ResampleResult>;
  /** Throws when labels y alone show that fitResample cannot succeed (OverSampler.checkLabels). */
  checkLabels?(y: Int32Array): void;
}

/** The identity: the embeddings unchanged, no synthetic row. */
const identity: Resampler = {
  fitResample: async (x, y, d) => ({
    x,
    y,
    d,
    provenance: { base: new Int32Array(0), partner: new Int32Array(0), coefficient: new Float64Array(0) },
    fallbacks: [],
  }),
};

const k = (
  sampler: keyof typeof K_NEIGHBORS,
  run: RunSamplerSettings,
  own: { kNeighbors?: number } | undefined,
) => own?.kNeighbors ?? run.kNeighbors ?? K_NEIGHBORS[sampler];

/** The search settings every neighbour-based sampler takes from the run. */
const search = (run: RunSamplerSettings) => ({
  seed: run.seed,
  threads: run.threads,
  knn: run.knn,
  device: run.device,
});

export const SAMPLERS: {
  [S in SamplerId]: (run: RunSamplerSettings, options?: SamplerSettings[S]) => Resampler;
} = {
  none: () => identity,
  ros: ({ seed, threads }) => new ROS({ seed, threads }),
  smote: (run, o) => new SMOTE({ ...search(run), kNeighbors: k('smote', run, o) }),
  bsmote1: (run, o) =>
    new BorderlineSMOTE({
      ...search(run),
      kNeighbors: k('bsmote1', run, o),
      kind: 'borderline-1',
    }),
  bsmote2: (run, o) =>
    new BorderlineSMOTE({
      ...search(run),
      kNeighbors: k('bsmote2', run, o),
      kind: 'borderline-2',
    }),
  adasyn: (run, o) => new ADASYN({ ...search(run), nNeighbors: k('adasyn', run, o) }),
  eos: (run, o) => new EOS({ ...search(run), ...o, kNeighbors: k('eos', run, o) }),
};

/** A sampler by name (none of its own settings), or with its settings. */
function choiceOf(method: SamplerName | SamplerChoice): SamplerChoice {
  if (typeof method !== 'string') return method;
  if (isSamplerName(method)) return { sampler: method };
  throw new RangeError(samplerNameError('sampler', method));
}

function resamplerFor(method: SamplerName | SamplerChoice, run: RunSamplerSettings): Resampler {
  const choice = choiceOf(method);
  const make = SAMPLERS[choice.sampler] as (r: RunSamplerSettings, o?: SamplerChoice['options']) => Resampler;
  return make(run, choice.options);
}

/**
 * Throws (with the sampler's own message) when the training labels y already show that the sampler cannot
 * run on them, e.g. a class smaller than its neighbour count needs: checked before phase 1.
 */
export function checkSamplerOnLabels(
  method: SamplerName | SamplerChoice,
  y: Int32Array,
  run: RunSamplerSettings,
): void {
  resamplerFor(method, run).checkLabels?.(y);
}

/** Resamples embeddings x [N, d] with a sampler; 'none' returns the input unchanged. */
export async function resampleWith(
  method: SamplerName | SamplerChoice,
  x: Float32Array,
  y: Int32Array,
  d: number,
  run: RunSamplerSettings,
): Promise<ResampleResult> {
  return resamplerFor(method, run).fitResample(x, y, d);
}
