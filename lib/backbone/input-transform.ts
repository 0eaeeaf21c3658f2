// How uint8 images become a foreign backbone's input: per channel value = pixel * scale + shift, and grey images
// repeated into the three channels of an RGB model. backbone-head-onnx.ts puts it into the graph in front of the
// backbone; that one graph embeds the training data (onnx-backbone.ts) and is served, so a service that feeds
// raw pixels sees exactly what training saw.

export interface InputTransform {
  /** Channels the model takes (1 or 3). */
  modelChannels: number;
  /** Channels of the images (1 or 3); 1 into a 3-channel model is repeated. */
  imageChannels: number;
  /** Per model channel. */
  scale: Float32Array;
  shift: Float32Array;
}

export interface Normalization {
  /** Per-channel mean of pixel/255 the model was trained with (one value: every channel). */
  mean?: number[];
  /** Per-channel std of pixel/255 (one value: every channel). */
  std?: number[];
}

function perChannel(
  name: string,
  values: number[] | undefined,
  channels: number,
  fallback: number,
): number[] {
  const v = values ?? [fallback];
  if (v.length === 1) return new Array(channels).fill(v[0]);
  if (v.length !== channels) {
    const expected =
      channels === 1
        ? '1 value (the model takes 1 channel)'
        : `1 or ${channels} values (one per model channel)`;
    throw new RangeError(`${name}: expected ${expected}, got ${v.length}`);
  }
  return v;
}

/**
 * The transform for a model of `modelChannels` fed images of `imageChannels`. `raw`: the model normalises
 * inside its graph and takes pixel values 0..255 as they are (our own exported models). Otherwise
 * (pixel / 255 - mean) / std, with mean 0 and std 1 (pixel / 255) unless given.
 */
export function inputTransform(
  modelChannels: number,
  imageChannels: number,
  normalization: Normalization | 'raw',
): InputTransform {
  if (!(imageChannels === modelChannels || (imageChannels === 1 && modelChannels === 3))) {
    throw new RangeError(
      `the model takes ${modelChannels}-channel images and the data set has ${imageChannels}-channel ones ` +
        '(grey images are repeated into an RGB model; nothing else is converted)',
    );
  }
  if (normalization === 'raw') {
    return {
      modelChannels,
      imageChannels,
      scale: new Float32Array(modelChannels).fill(1),
      shift: new Float32Array(modelChannels),
    };
  }
  const mean = perChannel('mean', normalization.mean, modelChannels, 0);
  const std = perChannel('std', normalization.std, modelChannels, 1);
  for (const m of mean)
    if (!Number.isFinite(m)) throw new RangeError(`mean: expected finite numbers, got ${m}`);
  for (const s of std)
    if (!(Number.isFinite(s) && s > 0)) throw new RangeError(`std: expected finite numbers > 0, got ${s}`);
  return {
    modelChannels,
    imageChannels,
    scale: Float32Array.from(std, (s) => 1 / (255 * s)),
    shift: Float32Array.from(mean, (m, c) => -m / std[c]),
  };
}
