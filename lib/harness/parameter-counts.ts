// Trained parameters per phase, the cost axis of the comparison table: phase 1 trains the whole CNN (every
// learnable tensor of the native topology: convolutions, batch-norm scales and shifts, the head); phase 3
// trains a fresh head on the frozen embeddings (64 x classes weights, plus a bias unless LDAM's cosine head).
import { EMBEDDING_SIZE, type HeadKind, parameterShapes, type ResNetSpec } from '../model/spec.js';

export function networkParameterCount(spec: ResNetSpec): number {
  let total = 0;
  for (const shape of parameterShapes(spec).values()) total += shape.reduce((a, b) => a * b, 1);
  return total;
}

export function headParameterCount(classes: number, head: HeadKind): number {
  return EMBEDDING_SIZE * classes + (head === 'linear' ? classes : 0);
}

/** Channels and side of a named data set's images, for results stored before they recorded the count. */
export function knownInputShape(dataset: string): { inChannels: number; inputSize: number } | null {
  if (dataset === 'fashion-mnist') return { inChannels: 1, inputSize: 28 };
  if (dataset === 'cifar10' || dataset === 'cifar100') return { inChannels: 3, inputSize: 32 };
  return null;
}
