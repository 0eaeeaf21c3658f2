// The phase-1 variants a comparison trains: a loss and a train rule each (the cost-sensitive baselines the
// EOS paper compares with: re-weighting, deferred re-weighting, re-sampling, focal, LDAM-DRW and asymmetric
// losses). Each variant's backbone is trained once per seed and then shared by every phase-2 sampler.
import type { TrainRule } from '../train/class-weights.js';
import type { LossName } from '../train/loss-config.js';

export const PHASE1_VARIANTS = ['ce', 'reweight', 'drw', 'resample', 'focal', 'ldam-drw', 'asl'] as const;
export type Phase1Variant = (typeof PHASE1_VARIANTS)[number];

const SETTINGS: Record<Phase1Variant, { loss: LossName; trainRule: TrainRule }> = {
  ce: { loss: 'ce', trainRule: 'none' },
  reweight: { loss: 'ce', trainRule: 'reweight' },
  drw: { loss: 'ce', trainRule: 'drw' },
  resample: { loss: 'ce', trainRule: 'resample' },
  focal: { loss: 'focal', trainRule: 'none' },
  // LDAM with deferred re-weighting, as LDAM's authors run it; createModel gives LDAM a cosine head.
  'ldam-drw': { loss: 'ldam', trainRule: 'drw' },
  asl: { loss: 'asl', trainRule: 'none' },
};

export function isPhase1Variant(name: string): name is Phase1Variant {
  return (PHASE1_VARIANTS as readonly string[]).includes(name);
}

/** The phase-1 loss and train rule of a variant. */
export function variantSettings(variant: Phase1Variant): { loss: LossName; trainRule: TrainRule } {
  const s = SETTINGS[variant];
  if (!s)
    throw new RangeError(`unknown phase-1 variant ${variant}; choose from ${PHASE1_VARIANTS.join(', ')}`);
  return s;
}
