// A model's tensors by PyTorch name, read from a safetensors state dict (ours or one written from PyTorch).
import { metadataJson, readSafetensors, type Tensor } from './safetensors.js';
import {
  batchNormNames,
  type HeadKind,
  type Normalization,
  parameterShapes,
  type ResNetSpec,
  validateSpec,
} from './spec.js';

export interface StateDict {
  spec: ResNetSpec;
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

/** Infers depth, input channels, classes and head kind from the tensor shapes of a CIFAR ResNet state dict. */
export function inferSpec(
  tensors: Map<string, Tensor>,
  inputSize: number,
  source = 'state dict',
): ResNetSpec {
  const shape = (name: string) => {
    const t = tensors.get(name);
    if (!t) throw new Error(`${source}: missing tensor ${name}; is this a CIFAR ResNet state dict?`);
    return t.shape;
  };
  const conv1 = shape('conv1.weight');
  let n = 0;
  while (tensors.has(`layer1.${n}.conv1.weight`)) n++;
  const linear = shape('linear.weight');
  const head: HeadKind = tensors.has('linear.bias') ? 'linear' : 'cosine';
  const classes = head === 'linear' ? linear[0] : linear[1];
  const spec: ResNetSpec = { depth: 6 * n + 2, inChannels: conv1[1], inputSize, classes, head };
  try {
    validateSpec(spec);
  } catch (err) {
    throw new Error(
      `${source}: not a CIFAR ResNet state dict this library can use (${(err as Error).message})`,
    );
  }
  return spec;
}

/** Checks that every parameter and BN statistic of `spec` is present with the right shape and dtype F32. */
export function checkStateDict(spec: ResNetSpec, tensors: Map<string, Tensor>, source: string): void {
  const expected = new Map(parameterShapes(spec));
  for (const bn of batchNormNames(spec)) {
    const c = expected.get(`${bn}.weight`)!;
    expected.set(`${bn}.running_mean`, c);
    expected.set(`${bn}.running_var`, c);
  }
  for (const [name, shape] of expected) {
    const t = tensors.get(name);
    if (!t) throw new Error(`${source}: missing tensor ${name}`);
    if (t.dtype !== 'F32') throw new Error(`${source}: tensor ${name} has dtype ${t.dtype}, expected F32`);
    if (t.shape.join(',') !== shape.join(',')) {
      throw new Error(`${source}: tensor ${name} has shape [${t.shape}], expected [${shape}]`);
    }
  }
}

export function readStateDict(path: string, inputSize?: number): StateDict {
  const { tensors, metadata } = readSafetensors(path);
  const saved = metadataJson(path, metadata, 'eos.spec') as { inputSize?: unknown } | null | undefined;
  const side: unknown = inputSize ?? (metadata.side ? Number(metadata.side) : (saved?.inputSize ?? 32));
  if (typeof side !== 'number' || !Number.isInteger(side) || side < 8) {
    throw new Error(
      `${path}: ${inputSize !== undefined ? 'inputSize is' : 'the metadata give the input size as'} ` +
        `${JSON.stringify(inputSize ?? metadata.side ?? saved?.inputSize)}, expected an integer >= 8`,
    );
  }
  const spec = inferSpec(tensors, side, path);
  checkStateDict(spec, tensors, path);
  return { spec, tensors, metadata };
}

/** ModelWeights view (for the ONNX exporter) over a state dict. */
export function weightsOf(state: StateDict, normalization: Normalization) {
  return {
    spec: state.spec,
    normalization,
    tensor(name: string): Float32Array {
      const t = state.tensors.get(name);
      if (!t || !(t.data instanceof Float32Array)) throw new Error(`missing float32 tensor ${name}`);
      return t.data;
    },
  };
}
