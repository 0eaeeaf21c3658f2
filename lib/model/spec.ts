// The spec of a CIFAR ResNet (He et al. 2016) as this library builds it, and the PyTorch names of its
// tensors (from the native topology). Names follow the reference code's modules so that state dicts move to and from PyTorch unchanged.

import { native } from '../native.js';

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

/** A trained network as the exporters read it: spec, normalisation and every tensor by PyTorch name. */
export interface ModelWeights {
  spec: ResNetSpec;
  normalization: Normalization;
  /** Parameters and BN running statistics (`bn1.running_mean`, ...) as float32. */
  tensor(name: string): Float32Array;
}

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

// The layer list is described once, in native code (native/nn/topology.h); these read it.
function topologyOf(spec: ResNetSpec) {
  const { depth, inChannels, inputSize, classes, head } = spec;
  return native().topology({ depth, inChannels, inputSize, classes, head, seed: 0 });
}

/** The basic blocks in forward order. */
export function blocks(spec: ResNetSpec): BlockLayout[] {
  return topologyOf(spec).blocks.map((b) => ({ ...b, stride: b.stride as 1 | 2 }));
}

/** Shape of every learnable parameter, by PyTorch name, in the reference module order. */
export function parameterShapes(spec: ResNetSpec): Map<string, number[]> {
  return new Map(topologyOf(spec).parameters.map((t) => [t.name, t.shape]));
}

/** Names of the BatchNorm layers (each has running_mean, running_var, num_batches_tracked buffers). */
export function batchNormNames(spec: ResNetSpec): string[] {
  return topologyOf(spec).batchNorms;
}
