// A comparison plan: the cross product of phase-1 variants and seeds, and for each backbone the phase-2
// samplers fitted on it. A "unit" is one piece of work whose result is stored on its own, so an interrupted
// comparison resumes unit by unit: a phase-1 unit (train one backbone, score it alone) and phase-2+3 units
// (one sampler and a fresh head on that backbone's embeddings).
import { join } from 'node:path';
import { type RunConfig, validateConfig } from '../pipeline/config.js';
import type { LossName } from '../train/loss-config.js';
import { isMethodKey, METHOD_KEYS, type MethodKey } from './methods.js';
import { isPhase1Variant, PHASE1_VARIANTS, type Phase1Variant, variantSettings } from './phase1-variants.js';

export {
  ABLATION_KEYS,
  type AblationKey,
  COMPARISON_METHOD_TABLE,
  COMPARISON_METHODS,
  type ComparisonMethod,
  isAblationKey,
  isMethodKey,
  METHOD_KEYS,
  type MethodKey,
} from './methods.js';

export interface DataLimits {
  /** n_max of the imbalanced split (images of the largest class); default: all the data set has. */
  maxTrainPerClass?: number;
  /** Test images kept per class (the first ones of each class in file order); default: all. */
  maxTestPerClass?: number;
}

export interface ComparisonSettings {
  /**
   * What every unit shares: data set, imbalance profile, network, phase-1 and phase-3 schedules, threads,
   * backend. Per unit the harness sets phase1.loss/trainRule (from the variant), seed and imbalance.seed
   * (from the seed index), sampler/compareWith and outDir.
   */
  base: RunConfig;
  /** Seed indices 0..seeds-1; index i trains with seed base.seed + i on the split base.imbalance.seed + i. */
  seeds: number;
  backbones: Phase1Variant[];
  /** Methods (samplers and EOS ablations, see methods.ts) fitted on the backbones in `fullBackbones`. */
  samplers: MethodKey[];
  fullBackbones: Phase1Variant[];
  /** Samplers fitted on every other backbone (may be empty: phase 1 only). */
  otherSamplers: MethodKey[];
  /** The method whose synthetic rows give the "after" generalization gap. */
  mainSampler: MethodKey;
  /** Phase-3 loss for every unit; default: the backbone's phase-1 loss (as `eos run` does). */
  headLoss?: LossName;
  limits: DataLimits;
  outDir: string;
}

export interface BackboneUnit {
  kind: 'phase1';
  id: string;
  backbone: Phase1Variant;
  seedIndex: number;
}

export interface SamplerUnit {
  kind: 'phase23';
  id: string;
  backbone: Phase1Variant;
  seedIndex: number;
  /** The method's key (methods.ts): its results file and report rows carry this name. */
  sampler: MethodKey;
}

export type Unit = BackboneUnit | SamplerUnit;

/** One backbone (variant, seed) and the samplers planned on it, in run order. */
export interface BackbonePlan {
  unit: BackboneUnit;
  samplers: SamplerUnit[];
}

export interface ComparisonPlan {
  settings: ComparisonSettings;
  backbones: BackbonePlan[];
  /** Every unit, in run order. */
  units: Unit[];
}

export const backboneId = (backbone: Phase1Variant, seedIndex: number) => `${backbone}-seed${seedIndex}`;

/** The samplers planned on a phase-1 variant. */
export function samplersFor(settings: ComparisonSettings, backbone: Phase1Variant): MethodKey[] {
  return settings.fullBackbones.includes(backbone) ? settings.samplers : settings.otherSamplers;
}

export function validateSettings(s: ComparisonSettings): void {
  if (!Number.isInteger(s.seeds) || s.seeds < 1)
    throw new RangeError(`seeds must be an integer >= 1, got ${s.seeds}`);
  if (s.backbones.length === 0) throw new RangeError('backbones: name at least one phase-1 variant');
  for (const [name, list] of [
    ['backbones', s.backbones],
    ['fullBackbones', s.fullBackbones],
  ] as const) {
    for (const b of list)
      if (!isPhase1Variant(b))
        throw new RangeError(
          `${name}: unknown phase-1 variant ${b}; choose from ${PHASE1_VARIANTS.join(', ')}`,
        );
    if (new Set(list).size !== list.length)
      throw new RangeError(`${name}: ${list.join(',')} names one twice`);
  }
  for (const [name, list] of [
    ['samplers', s.samplers],
    ['otherSamplers', s.otherSamplers],
    ['mainSampler', [s.mainSampler]],
  ] as const) {
    for (const n of list)
      if (!isMethodKey(n))
        throw new RangeError(`${name}: unknown sampler ${n}; choose from ${METHOD_KEYS.join(', ')}`);
    if (new Set(list).size !== list.length)
      throw new RangeError(`${name}: ${list.join(',')} names one twice`);
  }
  for (const [name, v] of Object.entries(s.limits)) {
    if (v !== undefined && (!Number.isInteger(v) || v < 1))
      throw new RangeError(`limits.${name} must be a positive integer, got ${v}`);
  }
  if (s.base.validationFraction !== 0)
    throw new RangeError(
      'base.validationFraction: the comparison trains on the whole imbalanced split (use 0)',
    );
  validateConfig(s.base);
}

export function makePlan(settings: ComparisonSettings): ComparisonPlan {
  validateSettings(settings);
  const backbones: BackbonePlan[] = [];
  // Backbone-major order: the first variant (by default CE with every sampler) finishes all its seeds first,
  // so an interrupted comparison already holds its headline rows with a seed-to-seed spread.
  for (const backbone of settings.backbones) {
    for (let seedIndex = 0; seedIndex < settings.seeds; seedIndex++) {
      const id = backboneId(backbone, seedIndex);
      backbones.push({
        unit: { kind: 'phase1', id, backbone, seedIndex },
        samplers: samplersFor(settings, backbone).map((sampler) => ({
          kind: 'phase23',
          id: `${id}+${sampler}`,
          backbone,
          seedIndex,
          sampler,
        })),
      });
    }
  }
  return { settings, backbones, units: backbones.flatMap((b) => [b.unit, ...b.samplers]) };
}

/** The folder of one backbone's files: config, checkpoints, phase-1 model and the stored unit results. */
export function backboneDir(
  settings: ComparisonSettings,
  unit: { backbone: Phase1Variant; seedIndex: number },
) {
  return join(settings.outDir, 'units', backboneId(unit.backbone, unit.seedIndex));
}

/** The full run configuration of one backbone (what `eos run` would be given for it). */
export function unitConfig(
  settings: ComparisonSettings,
  unit: { backbone: Phase1Variant; seedIndex: number },
): RunConfig<MethodKey> {
  const { base } = settings;
  const { loss, trainRule } = variantSettings(unit.backbone);
  return {
    ...base,
    seed: base.seed + unit.seedIndex,
    imbalance: { ...base.imbalance, seed: base.imbalance.seed + unit.seedIndex },
    phase1: { ...base.phase1, loss, trainRule },
    // The resampled embeddings are balanced, so phase 3 runs without a train rule for every sampler.
    phase3: { ...base.phase3, loss: settings.headLoss ?? loss, trainRule: 'none' },
    sampler: settings.mainSampler,
    compareWith: samplersFor(settings, unit.backbone),
    outDir: backboneDir(settings, unit),
  };
}
