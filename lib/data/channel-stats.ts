// Per-channel mean and standard deviation of pixel/255, the numbers the augmentation kernel normalises with
// (native().augmentBatch(..., { mean, std })). Computed from a 256-bin histogram per channel, so the result
// is exact up to the final divisions and independent of image order.
import type { Dataset } from './types.js';

export interface ChannelStats {
  /** Per channel, the mean of pixel/255 over all images and positions. */
  mean: number[];
  /** Per channel, the population standard deviation (divide by the count, as torchvision recipes do). */
  std: number[];
}

export function channelStats(data: Pick<Dataset, 'images' | 'shape'>): ChannelStats {
  const [n, c, h, w] = data.shape;
  const plane = h * w;
  if (data.images.length !== n * c * plane) {
    throw new RangeError(
      `images: expected ${n * c * plane} bytes for shape [${data.shape.join(', ')}], got ${data.images.length}`,
    );
  }
  if (n === 0) throw new RangeError('channelStats: the data set has no images');
  const histograms = Array.from({ length: c }, () => new Float64Array(256));
  for (let i = 0; i < n; i++) {
    for (let ch = 0; ch < c; ch++) {
      const histogram = histograms[ch];
      const start = (i * c + ch) * plane;
      for (let p = start; p < start + plane; p++) histogram[data.images[p]]++;
    }
  }
  const count = n * plane;
  const mean: number[] = [];
  const std: number[] = [];
  for (const histogram of histograms) {
    let sum = 0;
    for (let v = 0; v < 256; v++) sum += histogram[v] * v;
    const m = sum / count;
    let squares = 0;
    for (let v = 0; v < 256; v++) squares += histogram[v] * (v - m) * (v - m);
    mean.push(m / 255);
    std.push(Math.sqrt(squares / count) / 255);
  }
  return { mean, std };
}
