// One ONNX graph from a user's backbone and the head phase 3 trained on its embeddings, so `eos serve` (and any
// ONNX runtime) serves the pair as one model: raw pixels in (float32 NCHW, 0..255, as our own exported models
// take them), the backbone's input transform, the user's nodes untouched, then the head. Outputs 'logits' and
// 'embedding'; metadata as lib/model/onnx-export.ts writes it, so the Classifier reads both kinds alike.
//
// The user's graph is decoded with onnx-proto (the ONNX schema), its tensors that clash with our names are
// renamed, and it is re-encoded. Not handled (refused by onnxruntime on load, which the caller checks): models
// whose weights live in external data files.
import onnxProto, { type onnx as OnnxTypes } from 'onnx-proto';
import { tensorInfo } from '../model/onnx-export.js';
import type { HeadKindName } from '../native.js';
import type { InputTransform } from './input-transform.js';

const { onnx } = onnxProto;
const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;
const A = onnx.AttributeProto.AttributeType;

const INPUT = 'pixels';
const RESERVED = [INPUT, 'logits', 'embedding'];

export interface HeadForGraph {
  head: HeadKindName;
  dim: number;
  classes: number;
  /** linear: [classes, dim] (PyTorch Linear); cosine: [dim, classes] (NormedLinear). */
  weight: Float32Array;
  /** linear only: [classes]. */
  bias: Float32Array | null;
}

export interface BackboneGraph {
  /** The backbone's image input and embedding output. */
  inputName: string;
  outputName: string;
  transform: InputTransform;
  /** The images' side. */
  side: number;
  /** The side the model takes, when the images are resized to it (bilinear, half-pixel centres). */
  inputSize?: number;
}

/** The metadata of an ONNX model (ours: eos.*), without building anything. */
export function onnxMetadata(bytes: Uint8Array): Record<string, string> {
  const model = onnx.ModelProto.decode(bytes);
  return Object.fromEntries(model.metadataProps.map((p) => [p.key ?? '', p.value ?? '']));
}

function defaultOpset(model: OnnxTypes.ModelProto): number {
  const entry = model.opsetImport.find((o) => !o.domain);
  return entry ? Number(entry.version) : 1;
}

/** Renames, across the graph, every tensor whose name we need; returns the renaming. */
function renameClashes(graph: OnnxTypes.GraphProto, keep: string | null): Map<string, string> {
  const values = [...graph.input, ...graph.output, ...graph.valueInfo, ...graph.initializer];
  const used = new Set<string>();
  for (const n of graph.node) for (const t of [...(n.input ?? []), ...(n.output ?? [])]) used.add(t);
  for (const v of values) used.add(v.name ?? '');
  const renamed = new Map<string, string>();
  for (const name of RESERVED) {
    if (!used.has(name) || name === keep) continue;
    let to = `backbone/${name}`;
    for (let i = 1; used.has(to); i++) to = `backbone/${name}_${i}`;
    renamed.set(name, to);
    used.add(to);
  }
  const map = (t: string) => renamed.get(t) ?? t;
  for (const n of graph.node) {
    n.input = (n.input ?? []).map(map);
    n.output = (n.output ?? []).map(map);
  }
  for (const v of values) v.name = map(v.name ?? '');
  return renamed;
}

/** Graph building over a decoded model: initializers and nodes named under eos/. */
class Builder {
  readonly initializers: OnnxTypes.TensorProto[] = [];

  constant(name: string, dims: number[], values: Float32Array): string {
    const rawData = new Uint8Array(values.slice().buffer);
    this.initializers.push(onnx.TensorProto.create({ name, dims, dataType: FLOAT, rawData }));
    return name;
  }

  int64s(name: string, values: number[]): string {
    const rawData = new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer);
    this.initializers.push(
      onnx.TensorProto.create({ name, dims: [values.length], dataType: INT64, rawData }),
    );
    return name;
  }

  node(opType: string, input: string[], output: string, attribute: OnnxTypes.IAttributeProto[] = []) {
    return onnx.NodeProto.create({ opType, input, output: [output], name: `eos/${output}`, attribute });
  }
}

/**
 * The backbone behind its input transform: input 'pixels' (raw pixel values, [N, imageChannels, side, side]),
 * then grey -> RGB, the per-channel scale and shift, and a bilinear resize to `inputSize` where one is asked
 * for, into the user's nodes; output 'embedding'. The graph that embeds the training data and the one served
 * are this same graph, so a service sees exactly what training saw.
 */
export function preprocessedBackbone(backboneBytes: Uint8Array, backbone: BackboneGraph): Uint8Array {
  const { model } = preprocess(backboneBytes, backbone);
  return onnx.ModelProto.encode(model).finish();
}

function preprocess(backboneBytes: Uint8Array, backbone: BackboneGraph) {
  const model = onnx.ModelProto.decode(backboneBytes);
  if (!model.graph) throw new Error('the backbone model has no graph');
  // Decoded messages hold every repeated field as an array (protobufjs's defaults).
  const graph = model.graph as OnnxTypes.GraphProto;
  const opset = defaultOpset(model);
  if (opset < 9) throw new Error(`the backbone uses ONNX opset ${opset}; eos needs opset 9 or later`);
  const resize = backbone.inputSize !== undefined && backbone.inputSize !== backbone.side;
  if (resize && opset < 11) {
    throw new Error(
      `the backbone uses ONNX opset ${opset}; resizing its input (--input-size) needs opset 11`,
    );
  }
  const keep = backbone.outputName === 'embedding' ? 'embedding' : null;
  const renamed = renameClashes(graph, keep);
  const inputName = renamed.get(backbone.inputName) ?? backbone.inputName;
  const embeddingName = renamed.get(backbone.outputName) ?? backbone.outputName;
  const b = new Builder();

  const t = backbone.transform;
  const before: OnnxTypes.NodeProto[] = [];
  let x = INPUT;
  if (t.imageChannels !== t.modelChannels) {
    before.push(b.node('Concat', [x, x, x], 'eos/rgb', [{ name: 'axis', type: A.INT, i: 1 }]));
    x = 'eos/rgb';
  }
  const C = t.modelChannels;
  before.push(b.node('Mul', [x, b.constant('eos/input.scale', [1, C, 1, 1], t.scale)], 'eos/scaled'));
  const normalized = resize ? 'eos/normalized' : inputName;
  before.push(
    b.node('Add', ['eos/scaled', b.constant('eos/input.shift', [1, C, 1, 1], t.shift)], normalized),
  );
  if (resize) {
    // sizes = [N, C, S, S] with N taken from the batch; roi and scales unused (empty, as opset 11 wants them).
    const S = backbone.inputSize!;
    before.push(b.node('Shape', [normalized], 'eos/shape'));
    before.push(
      b.node(
        'Slice',
        ['eos/shape', b.int64s('eos/resize.starts', [0]), b.int64s('eos/resize.ends', [2])],
        'eos/batch_channels',
      ),
    );
    before.push(
      b.node('Concat', ['eos/batch_channels', b.int64s('eos/resize.side', [S, S])], 'eos/resize.sizes', [
        { name: 'axis', type: A.INT, i: 0 },
      ]),
    );
    const empty = b.constant('eos/resize.empty', [0], new Float32Array(0));
    before.push(
      b.node('Resize', [normalized, empty, empty, 'eos/resize.sizes'], inputName, [
        { name: 'mode', type: A.STRING, s: new TextEncoder().encode('linear') },
        { name: 'coordinate_transformation_mode', type: A.STRING, s: new TextEncoder().encode('half_pixel') },
      ]),
    );
  }
  const after: OnnxTypes.NodeProto[] = [];
  if (embeddingName !== 'embedding') after.push(b.node('Identity', [embeddingName], 'embedding'));

  const initializerNames = new Set(graph.initializer.map((i) => i.name));
  graph.node = [...before, ...graph.node, ...after];
  graph.initializer.push(...b.initializers);
  graph.input = [
    onnx.ValueInfoProto.create(tensorInfo(INPUT, ['batch', t.imageChannels, backbone.side, backbone.side])),
    // Older exporters list the weights as inputs too: they stay (the image input is now computed).
    ...graph.input.filter((i) => i.name !== inputName && initializerNames.has(i.name)),
  ];
  graph.output = [onnx.ValueInfoProto.create(tensorInfo('embedding', ['batch', 'width']))];
  return { model, graph, opset };
}

/** The combined model's bytes: `backbone` (its ONNX bytes) behind its input transform, followed by `head`. */
export function backboneWithHead(
  backboneBytes: Uint8Array,
  backbone: BackboneGraph,
  head: HeadForGraph,
  metadata: Record<string, string>,
): Uint8Array {
  const { model, graph, opset } = preprocess(backboneBytes, backbone);
  const b = new Builder();
  const constant = b.constant.bind(b);
  const int64s = b.int64s.bind(b);
  const node = b.node.bind(b);

  const after: OnnxTypes.NodeProto[] = [];
  if (head.head === 'linear') {
    after.push(
      node(
        'Gemm',
        [
          'embedding',
          constant('eos/head.weight', [head.classes, head.dim], head.weight),
          constant('eos/head.bias', [head.classes], head.bias ?? new Float32Array(head.classes)),
        ],
        'logits',
        [{ name: 'transB', type: A.INT, i: 1 }],
      ),
    );
  } else {
    // NormedLinear: normalize(x, dim=1) @ normalize(W, dim=0), F.normalize's eps 1e-12 on the norms.
    const { dim, classes, weight } = head;
    const normalized = new Float32Array(weight.length);
    for (let j = 0; j < classes; j++) {
      let sq = 0;
      for (let i = 0; i < dim; i++) sq += weight[i * classes + j] ** 2;
      const norm = Math.max(Math.sqrt(sq), 1e-12);
      for (let i = 0; i < dim; i++) normalized[i * classes + j] = weight[i * classes + j] / norm;
    }
    // ReduceL2 takes its axes as an attribute up to opset 17 and as an input from 18.
    after.push(
      opset >= 18
        ? node('ReduceL2', ['embedding', int64s('eos/head.axes', [1])], 'eos/norm', [
            { name: 'keepdims', type: A.INT, i: 1 },
          ])
        : node('ReduceL2', ['embedding'], 'eos/norm', [
            { name: 'axes', type: A.INTS, ints: [1] },
            { name: 'keepdims', type: A.INT, i: 1 },
          ]),
    );
    after.push(
      node('Max', ['eos/norm', constant('eos/head.eps', [1], Float32Array.of(1e-12))], 'eos/safe_norm'),
    );
    after.push(node('Div', ['embedding', 'eos/safe_norm'], 'eos/unit'));
    after.push(
      node(
        'MatMul',
        ['eos/unit', constant('eos/head.weight.normalized', [dim, classes], normalized)],
        'logits',
      ),
    );
  }

  graph.node.push(...after);
  graph.initializer.push(...b.initializers);
  graph.output = [
    onnx.ValueInfoProto.create(tensorInfo('logits', ['batch', head.classes])),
    onnx.ValueInfoProto.create(tensorInfo('embedding', ['batch', head.dim])),
  ];
  const kept = model.metadataProps.filter(
    (p) => !(p.key ?? '').startsWith('eos.') && !((p.key ?? '') in metadata),
  );
  model.metadataProps = [
    ...kept,
    ...Object.entries(metadata).map(([key, value]) => onnx.StringStringEntryProto.create({ key, value })),
  ];
  return onnx.ModelProto.encode(model).finish();
}
