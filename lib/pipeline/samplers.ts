// The phase-2 samplers by the names the CLI and the comparison harness use: a table from name to factory.
// A sampler's own settings (EOS's coefficient bound, say) come with it as options; the run gives the seed,
// the threads and the neighbour count (`--k-neighbors`), which a sampler's own kNeighbors option overrides.
import { K_NEIGHBORS } from '../defaults.js';
import { COMPARISON_METHODS, type MethodKey } from '../harness/methods.js';
import { ADASYN, BorderlineSMOTE, EOS, type EOSOptions, ROS, SMOTE } from '../resample/index.js';
import type { ResampleResult } from '../resample/types.js';

export const SAMPLER_NAMES = ['none', 'ros', 'smote', 'bsmote1', 'bsmote2', 'adasyn', 'eos'] as const;
/** A phase-2 sampler: what `eos run --sampler/--compare` and `eos resample --sampler` accept. */
export type SamplerId = (typeof SAMPLER_NAMES)[number];

/**
 * TRANSITIONAL: a sampler, or the key of one of the comparison harness's methods (lib/harness/methods.ts,
 * e.g. the EOS ablation 'eos-k5'). lib/pipeline/fit-method.ts, lib/harness/fit-sampler.ts and
 * lib/harness/unit-results.ts still pass a harness method key where this type is named; once they take a
 * SamplerChoice / MethodKey this becomes `SamplerId` (and SamplerId may be renamed to it).
 */
export type SamplerName = MethodKey;

export function isSamplerName(name: string): name is SamplerId {
  return (SAMPLER_NAMES as readonly string[]).includes(name);
}

/** The message for a name that is not a sampler (`what`: the option or setting that named it). */
export function samplerNameError(what: string, name: string): string {
  return `unknown ${what} ${name}; choose from ${SAMPLER_NAMES.join(', ')}`;
}

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
}

interface Resampler {
  fitResample(x: Float32Array, y: Int32Array, d: number): Promise<ResampleResult>;
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

export const SAMPLERS: {
  [S in SamplerId]: (run: RunSamplerSettings, options?: SamplerSettings[S]) => Resampler;
} = {
  none: () => identity,
  ros: ({ seed, threads }) => new ROS({ seed, threads }),
  smote: (run, o) => new SMOTE({ seed: run.seed, threads: run.threads, kNeighbors: k('smote', run, o) }),
  bsmote1: (run, o) =>
    new BorderlineSMOTE({
      seed: run.seed,
      threads: run.threads,
      kNeighbors: k('bsmote1', run, o),
      kind: 'borderline-1',
    }),
  bsmote2: (run, o) =>
    new BorderlineSMOTE({
      seed: run.seed,
      threads: run.threads,
      kNeighbors: k('bsmote2', run, o),
      kind: 'borderline-2',
    }),
  adasyn: (run, o) => new ADASYN({ seed: run.seed, threads: run.threads, nNeighbors: k('adasyn', run, o) }),
  eos: (run, o) => new EOS({ seed: run.seed, threads: run.threads, ...o, kNeighbors: k('eos', run, o) }),
};

/** The sampler and its settings a name stands for: a sampler with none of its own, or a harness method. */
function choiceOf(method: SamplerName | SamplerChoice): SamplerChoice {
  if (typeof method !== 'string') return method;
  if (isSamplerName(method)) return { sampler: method };
  const entry = COMPARISON_METHODS[method]; // TRANSITIONAL: see SamplerName
  if (!entry) throw new RangeError(samplerNameError('sampler', method));
  return entry;
}

/** Resamples embeddings x [N, d] with a sampler; 'none' returns the input unchanged. */
export async function resampleWith(
  method: SamplerName | SamplerChoice,
  x: Float32Array,
  y: Int32Array,
  d: number,
  run: RunSamplerSettings,
): Promise<ResampleResult> {
  const choice = choiceOf(method);
  const make = SAMPLERS[choice.sampler] as (r: RunSamplerSettings, o?: SamplerChoice['options']) => Resampler;
  return make(run, choice.options).fitResample(x, y, d);
}
