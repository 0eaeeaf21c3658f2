// Pre-processing in pixel space, the classic baseline EOS is measured against: the uint8 training images,
// flattened to C*H*W vectors, over-sampled with the library's SMOTE or ROS (imbalanced-learn's semantics,
// every class up to the majority count), and rounded back to uint8 images for phase 1.
//
// Rounding: a synthetic pixel is computed in double from the ORIGINAL uint8 pixels and the sampler's
// provenance, base + c * (partner - base) with c in [0, 1), then Math.round (half up; the values are >= 0)
// and clamped to 0..255, so it lies within 0.5 of its segment. imbalanced-learn itself, given uint8 X,
// casts with astype(uint8), which truncates: every pixel 0.5 darker on average; we round to the nearest.
//
// Cost: the samplers take float32 rows, so the originals are copied to N x C*H*W float32 and the result
// holds the balanced set as float32 before it is rounded (Fashion-MNIST-LT at ratio 100: 12k originals and
// 60k balanced rows of 784 values, about 190 MB). SMOTE's k-nearest-neighbour search runs within each
// over-sampled class in d = C*H*W dimensions (784 for Fashion-MNIST, 3072 for CIFAR), n^2 * d per class.

import type { Dataset } from '../data/types.js';
import { K_NEIGHBORS } from '../defaults.js';
import { ROS } from '../resample/ros.js';
import { SMOTE } from '../resample/smote.js';
import type { Provenance } from '../resample/types.js';

export type PixelResampler = 'smote' | 'ros';

/** SMOTE's default k (imbalanced-learn's 5); fixed (--k-neighbors is the embedding-space samplers' k). */
export const PIXEL_SMOTE_K = K_NEIGHBORS.smote;

export interface PixelResampled {
  /** The originals in order, then the synthetic images (labels likewise). */
  train: Dataset;
  /** Where each synthetic image came from (indices into the original images). */
  provenance: Provenance;
  seconds: number;
}

/** Over-samples every class of `train` to the majority count in pixel space, seeded by `seed`. */
export async function resamplePixels(
  train: Dataset,
  method: PixelResampler,
  options: { seed: number; threads?: number },
): Promise<PixelResampled> {
  const start = performance.now();
  const [n, c, h, w] = train.shape;
  const d = c * h * w;
  if (train.images.length !== n * d || train.labels.length !== n)
    throw new RangeError(`resamplePixels: images and labels do not match shape ${train.shape.join('x')}`);
  const rows = Float32Array.from(train.images);
  const sampler =
    method === 'smote'
      ? new SMOTE({ kNeighbors: PIXEL_SMOTE_K, seed: options.seed, threads: options.threads })
      : new ROS({ seed: options.seed });
  const result = await sampler.fitResample(rows, train.labels, d).catch((err: unknown) => {
    // Same error class (an UndefinedOnDataError stays one), saying which step of which unit it is.
    if (err instanceof Error) err.message = `pixel-space ${method} of the training images: ${err.message}`;
    throw err;
  });
  const { base, partner, coefficient } = result.provenance;
  const m = base.length;
  const images = new Uint8Array((n + m) * d);
  images.set(train.images);
  const src = train.images;
  for (let i = 0; i < m; i++) {
    const from = base[i] * d;
    const to = partner[i] * d;
    const out = (n + i) * d;
    const ci = coefficient[i];
    for (let j = 0; j < d; j++) {
      const a = src[from + j];
      const v = Math.round(a + ci * (src[to + j] - a));
      images[out + j] = Math.min(255, Math.max(0, v));
    }
  }
  return {
    train: { ...train, images, labels: result.y, shape: [n + m, c, h, w] },
    provenance: result.provenance,
    seconds: (performance.now() - start) / 1000,
  };
}
