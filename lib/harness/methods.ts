// The phase-2 methods a comparison can fit on a backbone, by the keys its results folders and reports use:
// every sampler under its own name, and the EOS ablations as EOS with options of their own. An ablation's
// options are fixed by its entry: eos-k5 and eos-k20 use their own k whatever --k-neighbors says (plain
// 'eos' and the other ablations use --k-neighbors, default 10). (This module only imports types, so
// lib/pipeline/samplers.ts can read it too; lib/harness/plan.ts re-exports it.)
import type { SamplerChoice, SamplerId } from '../pipeline/samplers.js';

export const ABLATION_KEYS = ['eos-half', 'eos-k5', 'eos-k20', 'eos-reference-script-bug'] as const;
export type AblationKey = (typeof ABLATION_KEYS)[number];

/** A method of a comparison: a sampler, or an EOS ablation. */
export type MethodKey = SamplerId | AblationKey;

export interface ComparisonMethod {
  choice: SamplerChoice;
  /** What an ablation changes, for the report (samplers: null). */
  description: string | null;
}

const sampler = (name: SamplerId): ComparisonMethod => ({ choice: { sampler: name }, description: null });

/** Every method key, in the order `eos compare --samplers` plans them by default. */
export const COMPARISON_METHOD_TABLE: Readonly<Record<MethodKey, ComparisonMethod>> = {
  none: sampler('none'),
  ros: sampler('ros'),
  smote: sampler('smote'),
  bsmote1: sampler('bsmote1'),
  bsmote2: sampler('bsmote2'),
  adasyn: sampler('adasyn'),
  eos: sampler('eos'),
  'eos-half': {
    choice: { sampler: 'eos', options: { maxCoefficient: 0.5 } },
    description: 'bounds the coefficient at 0.5',
  },
  'eos-k5': {
    choice: { sampler: 'eos', options: { kNeighbors: 5 } },
    description: 'uses its own k = 5, whatever k the others use',
  },
  'eos-k20': {
    choice: { sampler: 'eos', options: { kNeighbors: 20 } },
    description: 'uses its own k = 20, whatever k the others use',
  },
  'eos-reference-script-bug': {
    choice: { sampler: 'eos', options: { reproduceReferenceScriptOffByOneBug: true } },
    description: "reproduces the published script's off-by-one partner choice",
  },
};

/** The sampler and options of each method key. */
export const COMPARISON_METHODS: Readonly<Record<string, SamplerChoice | undefined>> = Object.fromEntries(
  Object.entries(COMPARISON_METHOD_TABLE).map(([key, m]) => [key, m.choice]),
);

export const METHOD_KEYS = Object.keys(COMPARISON_METHOD_TABLE) as MethodKey[];

export function isMethodKey(name: string): name is MethodKey {
  return Object.hasOwn(COMPARISON_METHOD_TABLE, name);
}

export function isAblationKey(name: string): name is AblationKey {
  return (ABLATION_KEYS as readonly string[]).includes(name);
}

/** For a CLI that takes samplers only: what to say when it is given an ablation's key (else undefined). */
export function ablationHint(name: string): string | undefined {
  if (!isAblationKey(name)) return undefined;
  return (
    `${name} is not a sampler but an ablation of EOS (EOS that ${COMPARISON_METHOD_TABLE[name].description}); ` +
    'ablations are run by eos compare (--samplers, --other-samplers, --main-sampler).'
  );
}
