import onnxProto, { type onnx as OnnxTypes } from 'onnx-proto';
import { COSINE_LOGIT_SCALE } from '../defaults.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import { checkOutputFile } from '../io/output-dir.js';
import { blocks, EMBEDDING_SIZE, type ModelWeights, type Normalization, parameterShapes } from './spec.js';

export type { ModelWeights };

const { onnx } = onnxProto;

export const ONNX_OPSET = 13;
export const ONNX_INPUT = 'pixels';

/** What the exporter needs of a model: its spec, normalisation and tensors by PyTorch name. */
export type OnnxOutput = 'logits' | 'embedding';

export interface ExportOptions {
  outputs?: OnnxOutput[];
  /** Written into the model's metadata. */
  libraryVersion?: string;
  /** The name of each class, recorded as eos.class_names (served by `eos serve`). */
  classNames?: string[];
}

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;
const A = onnx.AttributeProto.AttributeType;

class GraphBuilder {
  nodes: OnnxTypes.INodeProto[] = [];
  initializers: OnnxTypes.ITensorProto[] = [];
  private counter = 0;

  constant(name: string, dims: number[], values: Float32Array): string {
    const bytes = new Uint8Array(
      values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength),
    );
    this.initializers.push({ name, dims, dataType: FLOAT, rawData: bytes });
    return name;
  }

  int64s(name: string, values: number[]): string {
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    this.initializers.push({
      name,
      dims: [values.length],
      dataType: INT64,
      rawData: new Uint8Array(data.buffer),
    });
    return name;
  }

  node(
    opType: string,
    inputs: string[],
    attributes: OnnxTypes.IAttributeProto[] = [],
    output?: string,
  ): string {
    const out = output ?? `${opType.toLowerCase()}_${this.counter++}`;
    this.nodes.push({ opType, input: inputs, output: [out], name: out, attribute: attributes });
    return out;
  }
}

const ints = (name: string, values: number[]): OnnxTypes.IAttributeProto => ({
  name,
  type: A.INTS,
  ints: values,
});
const int = (name: string, value: number): OnnxTypes.IAttributeProto => ({ name, type: A.INT, i: value });
const float = (name: string, value: number): OnnxTypes.IAttributeProto => ({ name, type: A.FLOAT, f: value });

/** A float32 tensor's type and shape (a string dimension is symbolic: 'batch'). */
export function tensorInfo(name: string, dims: (number | string)[]): OnnxTypes.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
      },
    },
  };
}

/** How the two lists are called in errors: the library's field names, or the CLI's flags. */
export interface NormalizationNames {
  mean: string;
  std: string;
}

/**
 * Refuses a normalisation the graph cannot use: one finite mean and one finite std > 0 per input channel.
 * The graph divides by std, so a zero, negative or non-finite std gives a model whose every output is NaN
 * (or silently mirrored), which onnxruntime runs without complaint; it must be caught here.
 */
export function checkNormalization(
  normalization: Normalization,
  channels: number,
  names: NormalizationNames = { mean: 'normalization.mean', std: 'normalization.std' },
): void {
  const check = (values: unknown, name: string, ok: (v: number) => boolean, expected: string) => {
    if (!Array.isArray(values)) {
      throw new TypeError(`${name} must be a list of ${channels} number(s), got ${String(values)}`);
    }
    if (values.length !== channels) {
      throw new RangeError(
        `${name} has ${values.length} value(s) [${values.join(', ')}], the model has ${channels} input channel(s): give one value per channel`,
      );
    }
    values.forEach((v, c) => {
      if (typeof v !== 'number' || !ok(v)) {
        throw new RangeError(
          `${name} must be ${expected} for every channel, got ${String(v)} (channel ${c} of [${values.join(', ')}])`,
        );
      }
    });
  };
  check(normalization?.mean, names.mean, Number.isFinite, 'a finite number');
  check(
    normalization?.std,
    names.std,
    (v) => Number.isFinite(v) && v > 0,
    'a finite number > 0 (pixel/255 is divided by it)',
  );
}

/** Throws if `values` holds NaN or Infinity: such a weight makes every prediction NaN. */
function checkFinite(name: string, values: Float32Array): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) {
      throw new RangeError(
        `tensor ${name} holds ${values[i]} at index ${i}: the weights are not finite (did training diverge?)`,
      );
    }
  }
}

/** Builds the ONNX model in memory. */
export function buildOnnxModel(model: ModelWeights, options: ExportOptions = {}): OnnxTypes.ModelProto {
  const { spec, normalization } = model;
  const outputs = options.outputs ?? ['logits'];
  if (outputs.length === 0 || outputs.some((o) => o !== 'logits' && o !== 'embedding')) {
    throw new RangeError(
      `outputs must be a non-empty list of 'logits' and 'embedding', got ${JSON.stringify(outputs)}`,
    );
  }
  checkNormalization(normalization, spec.inChannels);
  const shapes = parameterShapes(spec);
  const g = new GraphBuilder();
  const weight = (name: string): string => {
    const shape = shapes.get(name) ?? [spec.classes];
    const values = model.tensor(name);
    const count = shape.reduce((a, b) => a * b, 1);
    if (values.length !== count)
      throw new RangeError(`tensor ${name} has ${values.length} values, expected ${count}`);
    checkFinite(name, values);
    return g.constant(name, shape, values);
  };
  const bnStat = (name: string, c: number) => {
    const values = model.tensor(name);
    if (values.length !== c)
      throw new RangeError(`tensor ${name} has ${values.length} values, expected ${c}`);
    checkFinite(name, values);
    // BatchNormalization takes sqrt(var + eps): a negative variance gives NaN outputs.
    if (name.endsWith('running_var') && values.some((v) => v < 0)) {
      throw new RangeError(`tensor ${name} holds a negative variance: the checkpoint is corrupt`);
    }
    return g.constant(name, [c], values);
  };

  // (pixels / 255 - mean) / std == pixels * scale + shift, per channel.
  const C = spec.inChannels;
  const scale = Float32Array.from(normalization.std.map((s) => 1 / (255 * s)));
  const shift = Float32Array.from(normalization.mean.map((m, c) => -m / normalization.std[c]));
  let x = g.node('Mul', [ONNX_INPUT, g.constant('normalize.scale', [1, C, 1, 1], scale)]);
  x = g.node('Add', [x, g.constant('normalize.shift', [1, C, 1, 1], shift)]);

  const conv = (input: string, name: string, stride: number) =>
    g.node(
      'Conv',
      [input, weight(name)],
      [ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1]), ints('strides', [stride, stride])],
    );
  const bn = (input: string, prefix: string, c: number) =>
    g.node(
      'BatchNormalization',
      [
        input,
        weight(`${prefix}.weight`),
        weight(`${prefix}.bias`),
        bnStat(`${prefix}.running_mean`, c),
        bnStat(`${prefix}.running_var`, c),
      ],
      [float('epsilon', 1e-5)],
    );

  x = g.node('Relu', [bn(conv(x, 'conv1.weight', 1), 'bn1', 16)]);
  for (const b of blocks(spec)) {
    let y = g.node('Relu', [bn(conv(x, `${b.prefix}.conv1.weight`, b.stride), `${b.prefix}.bn1`, b.planes)]);
    y = bn(conv(y, `${b.prefix}.conv2.weight`, 1), `${b.prefix}.bn2`, b.planes);
    let shortcut = x;
    if (b.stride !== 1 || b.inPlanes !== b.planes) {
      // Option A: x[:, :, ::2, ::2], then planes/4 zero channels on each side.
      const sub = g.node('Slice', [
        x,
        g.int64s(`${b.prefix}.shortcut.starts`, [0, 0]),
        g.int64s(`${b.prefix}.shortcut.ends`, [2 ** 31 - 1, 2 ** 31 - 1]),
        g.int64s(`${b.prefix}.shortcut.axes`, [2, 3]),
        g.int64s(`${b.prefix}.shortcut.steps`, [2, 2]),
      ]);
      const p = b.planes / 4;
      shortcut = g.node(
        'Pad',
        [sub, g.int64s(`${b.prefix}.shortcut.pads`, [0, p, 0, 0, 0, p, 0, 0])],
        [{ name: 'mode', type: A.STRING, s: new TextEncoder().encode('constant') }],
      );
    }
    x = g.node('Relu', [g.node('Add', [y, shortcut])]);
  }
  const embedding = g.node('Flatten', [g.node('GlobalAveragePool', [x])], [int('axis', 1)], 'embedding');
  if (spec.head === 'linear') {
    g.node('Gemm', [embedding, weight('linear.weight'), weight('linear.bias')], [int('transB', 1)], 'logits');
  } else {
    // NormedLinear: normalize(x, dim=1) @ normalize(W, dim=0), with F.normalize's eps 1e-12 on the norms.
    const w = model.tensor('linear.weight');
    if (w.length !== EMBEDDING_SIZE * spec.classes) {
      throw new RangeError(
        `tensor linear.weight has ${w.length} values, expected ${EMBEDDING_SIZE * spec.classes}`,
      );
    }
    checkFinite('linear.weight', w);
    const normalized = new Float32Array(w.length);
    for (let j = 0; j < spec.classes; j++) {
      let sq = 0;
      for (let i = 0; i < EMBEDDING_SIZE; i++) sq += w[i * spec.classes + j] ** 2;
      const norm = Math.max(Math.sqrt(sq), 1e-12);
      for (let i = 0; i < EMBEDDING_SIZE; i++)
        normalized[i * spec.classes + j] = w[i * spec.classes + j] / norm;
    }
    const norm = g.node('ReduceL2', [embedding], [ints('axes', [1]), int('keepdims', 1)]);
    const safe = g.node('Max', [norm, g.constant('head.eps', [1], Float32Array.of(1e-12))]);
    const unit = g.node('Div', [embedding, safe]);
    g.node(
      'MatMul',
      [unit, g.constant('linear.weight.normalized', [EMBEDDING_SIZE, spec.classes], normalized)],
      [],
      'logits',
    );
  }

  const outputInfo = outputs.map((o) =>
    o === 'logits'
      ? tensorInfo('logits', ['batch', spec.classes])
      : tensorInfo('embedding', ['batch', EMBEDDING_SIZE]),
  );
  if (options.classNames && options.classNames.length !== spec.classes) {
    throw new RangeError(
      `classNames: ${options.classNames.length} names for a model of ${spec.classes} classes`,
    );
  }
  const metadata: Record<string, string> = {
    'eos.classes': String(spec.classes),
    'eos.input_shape': JSON.stringify([spec.inChannels, spec.inputSize, spec.inputSize]),
    'eos.input': 'float32 NCHW raw pixel values in [0, 255]; normalisation is inside the graph',
    'eos.normalization': JSON.stringify(normalization),
    'eos.spec': JSON.stringify(spec),
    // Softmax temperature the head was trained with: LDAM's cosine head scales its logits by s = 30.
    'eos.logit_scale': String(spec.head === 'cosine' ? COSINE_LOGIT_SCALE : 1),
    'eos.library_version': options.libraryVersion ?? 'unknown',
    ...(options.classNames ? { 'eos.class_names': JSON.stringify(options.classNames) } : {}),
  };
  return onnx.ModelProto.create({
    irVersion: 7,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: 'eos-imbalance',
    producerVersion: options.libraryVersion ?? 'unknown',
    metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
    graph: {
      name: `resnet${spec.depth}`,
      node: g.nodes,
      initializer: g.initializers,
      input: [tensorInfo(ONNX_INPUT, ['batch', spec.inChannels, spec.inputSize, spec.inputSize])],
      output: outputInfo,
    },
  });
}

/**
 * Writes the model to `path` atomically. Every check (path, outputs, normalisation, tensors) runs before the
 * first byte is written, and the write goes through a temporary file: a refused export leaves nothing behind.
 */
export function exportOnnx(model: ModelWeights, path: string, options: ExportOptions = {}): void {
  checkOutputFile(path, 'exportOnnx: path');
  const bytes = onnx.ModelProto.encode(buildOnnxModel(model, options)).finish();
  writeFileAtomic(path, [bytes]);
}
