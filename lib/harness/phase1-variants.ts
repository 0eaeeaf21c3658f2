// The phase-1 variants a comparison trains: a loss and a train rule each (the cost-sensitive baselines the
// EOS paper compares with: re-weighting, deferred re-weighting, re-sampling, focal, LDAM-DRW and asymmetric
// losses), and pre-processing in pixel space (pixel-smote, pixel-ros: the images over-sampled before a CE
// training, the baseline whose cost EOS claims to undercut). Each variant's backbone is trained once per seed
// and then shared by every phase-2 sampler.
import type { TrainRule } from '../train/class-weights.js';
import type { LossName } from '../train/loss-config.js';
import type { PixelResampler } from './pixel-resample.js';

export const PHASE1_VARIANTS = [
  'ce',
  'reweight',
  'drw',
  'resample',
  'focal',
  'ldam-drw',
  'asl',
  'pixel-smote',
  'pixel-ros',
] as const;
export type Phase1Variant = (typeof PHASE1_VARIANTS)[number];

/**
 * The variants a comparison trains when none are named: the cost-sensitive ones. The pixel-space variants
 * train on the balanced set (5x the images at ratio 100), so they are asked for by name.
 */
export const DEFAULT_PHASE1_VARIANTS: readonly Phase1Variant[] = PHASE1_VARIANTS.filter(
  (v) => !v.startsWith('pixel-'),
);

const SETTINGS: Record<Phase1Variant, { loss: LossName; trainRule: TrainRule }> = {
  ce: { loss: 'ce', trainRule: 'none' },
  reweight: { loss: 'ce', trainRule: 'reweight' },
  drw: { loss: 'ce', trainRule: 'drw' },
  resample: { loss: 'ce', trainRule: 'resample' },
  focal: { loss: 'focal', trainRule: 'none' },
  // LDAM with deferred re-weighting, as LDAM's authors run it; createModel gives LDAM a cosine head.
  'ldam-drw': { loss: 'ldam', trainRule: 'drw' },
  asl: { loss: 'asl', trainRule: 'none' },
  // Plain CE on the balanced images: the balance comes from the pre-processing, not the loss.
  'pixel-smote': { loss: 'ce', trainRule: 'none' },
  'pixel-ros': { loss: 'ce', trainRule: 'none' },
};

const PIXEL: Partial<Record<Phase1Variant, PixelResampler>> = { 'pixel-smote': 'smote', 'pixel-ros': 'ros' };

/** The pixel-space over-sampler a variant's phase-1 training set goes through, or null (the images as they are). */
export function pixelResamplerOf(variant: Phase1Variant): PixelResampler | null {
  return PIXEL[variant] ?? null;
}

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
