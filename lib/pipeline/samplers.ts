// The phase-2 methods by the names the CLI and the comparison harness use.
import { ADASYN, BorderlineSMOTE, EOS, ROS, SMOTE } from '../resample/index.js';
import type { ResampleResult } from '../resample/types.js';

export const SAMPLER_NAMES = [
  'none',
  'ros',
  'smote',
  'bsmote1',
  'bsmote2',
  'adasyn',
  'eos',
  'eos-half', // EOS with maxCoefficient 0.5
  'eos-k5',
  'eos-k20',
  'eos-reference-script-bug', // the published script's off-by-one partner choice (ablation only)
] as const;
export type SamplerName = (typeof SAMPLER_NAMES)[number];

export function isSamplerName(name: string): name is SamplerName {
  return (SAMPLER_NAMES as readonly string[]).includes(name);
}

/** Resamples embeddings x [N, d] with the named method; 'none' returns the input unchanged. */
export async function resampleWith(
  name: SamplerName,
  x: Float32Array,
  y: Int32Array,
  d: number,
  options: { seed: number; kNeighbors?: number; threads?: number },
): Promise<ResampleResult> {
  const common = { seed: options.seed, threads: options.threads };
  const k = options.kNeighbors;
  switch (name) {
    case 'none':
      return {
        x,
        y,
        d,
        provenance: { base: new Int32Array(0), partner: new Int32Array(0), coefficient: new Float64Array(0) },
        fallbacks: [],
      };
    case 'ros':
      return new ROS(common).fitResample(x, y, d);
    case 'smote':
      return new SMOTE({ ...common, kNeighbors: k ?? 5 }).fitResample(x, y, d);
    case 'bsmote1':
      return new BorderlineSMOTE({ ...common, kNeighbors: k ?? 5, kind: 'borderline-1' }).fitResample(
        x,
        y,
        d,
      );
    case 'bsmote2':
      return new BorderlineSMOTE({ ...common, kNeighbors: k ?? 5, kind: 'borderline-2' }).fitResample(
        x,
        y,
        d,
      );
    case 'adasyn':
      return new ADASYN({ ...common, nNeighbors: k ?? 5 }).fitResample(x, y, d);
    case 'eos':
      return new EOS({ ...common, kNeighbors: k ?? 10 }).fitResample(x, y, d);
    case 'eos-half':
      return new EOS({ ...common, kNeighbors: k ?? 10, maxCoefficient: 0.5 }).fitResample(x, y, d);
    case 'eos-k5':
      return new EOS({ ...common, kNeighbors: 5 }).fitResample(x, y, d);
    case 'eos-k20':
      return new EOS({ ...common, kNeighbors: 20 }).fitResample(x, y, d);
    case 'eos-reference-script-bug':
      return new EOS({
        ...common,
        kNeighbors: k ?? 10,
        reproduceReferenceScriptOffByOneBug: true,
      }).fitResample(x, y, d);
  }
}
