// The architecture of a CIFAR ResNet (He et al. 2016) as this library builds it, and the PyTorch names of its
// tensors. Names follow the reference code's modules so that state dicts move to and from PyTorch unchanged.

export type HeadKind = 'linear' | 'cosine';

export interface ResNetSpec {
  /** 6n + 2: 8, 14, 20, 32, 44, 56, 110, ... */
  depth: number;
  /** 1 (grey) or 3 (RGB). */
  inChannels: number;
  /** Side of the square input images, >= 8. */
  inputSize: number;
  classes: number;
  /** `linear` (nn.Linear) or `cosine` (LDAM's NormedLinear: weight [64, classes], no bias). */
  head: HeadKind;
}

/** Per-channel normalisation of pixel / 255, as torchvision's Normalize. */
export interface Normalization {
  mean: number[];
  std: number[];
}

export const EMBEDDING_SIZE = 64;

export function validateSpec(spec: ResNetSpec): void {
  const { depth, inChannels, inputSize, classes, head } = spec;
  if (!Number.isInteger(depth) || depth < 8 || (depth - 2) % 6 !== 0) {
    throw new RangeError(`spec.depth must be 6n + 2 with n >= 1 (8, 14, 20, 32, ...), got ${depth}`);
  }
  if (inChannels !== 1 && inChannels !== 3)
    throw new RangeError(`spec.inChannels must be 1 or 3, got ${inChannels}`);
  if (!Number.isInteger(inputSize) || inputSize < 8) {
    throw new RangeError(`spec.inputSize must be an integer >= 8, got ${inputSize}`);
  }
  if (!Number.isInteger(classes) || classes < 2)
    throw new RangeError(`spec.classes must be an integer >= 2, got ${classes}`);
  if (head !== 'linear' && head !== 'cosine')
    throw new RangeError(`spec.head must be 'linear' or 'cosine', got ${head}`);
}

export interface BlockLayout {
  /** e.g. 'layer2.0' */
  prefix: string;
  inPlanes: number;
  planes: number;
  stride: 1 | 2;
}

/** The basic blocks in forward order. */
export function blocks(spec: ResNetSpec): BlockLayout[] {
  const n = (spec.depth - 2) / 6;
  const out: BlockLayout[] = [];
  let inPlanes = 16;
  [16, 32, 64].forEach((planes, stage) => {
    for (let i = 0; i < n; i++) {
      const stride = i === 0 && stage > 0 ? 2 : 1;
      out.push({ prefix: `layer${stage + 1}.${i}`, inPlanes, planes, stride });
      inPlanes = planes;
    }
  });
  return out;
}

/** Shape of every learnable parameter, by PyTorch name, in the reference module order. */
export function parameterShapes(spec: ResNetSpec): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  const bn = (prefix: string, c: number) => {
    shapes.set(`${prefix}.weight`, [c]);
    shapes.set(`${prefix}.bias`, [c]);
  };
  shapes.set('conv1.weight', [16, spec.inChannels, 3, 3]);
  bn('bn1', 16);
  for (const b of blocks(spec)) {
    shapes.set(`${b.prefix}.conv1.weight`, [b.planes, b.inPlanes, 3, 3]);
    bn(`${b.prefix}.bn1`, b.planes);
    shapes.set(`${b.prefix}.conv2.weight`, [b.planes, b.planes, 3, 3]);
    bn(`${b.prefix}.bn2`, b.planes);
  }
  if (spec.head === 'linear') {
    shapes.set('linear.weight', [spec.classes, EMBEDDING_SIZE]);
    shapes.set('linear.bias', [spec.classes]);
  } else {
    shapes.set('linear.weight', [EMBEDDING_SIZE, spec.classes]);
  }
  return shapes;
}

/** Names of the BatchNorm layers (each has running_mean, running_var, num_batches_tracked buffers). */
export function batchNormNames(spec: ResNetSpec): string[] {
  return ['bn1', ...blocks(spec).flatMap((b) => [`${b.prefix}.bn1`, `${b.prefix}.bn2`])];
}
