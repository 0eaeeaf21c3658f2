// Phases 2-3 on a user's ONNX backbone: one of our own trained ResNets, exported to ONNX, stands in for the
// user's model, so the built-in path on the same backbone is the reference: the same embeddings (to float
// rounding), the same scores, and the joined backbone+head ONNX predicting what the two steps predict.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import onnxProto from 'onnx-proto';
import { OnnxBackbone } from '../lib/backbone/onnx-backbone.js';
import { loadDataset } from '../lib/data/dataset.js';
import { writeNpy } from '../lib/data/npy-write.js';
import { ResNet } from '../lib/model/resnet.js';
import { readSafetensors } from '../lib/model/safetensors.js';
import { packageRoot } from '../lib/native.js';
import { PRESETS, type RunConfig } from '../lib/pipeline/config.js';
import { runOnBackbone } from '../lib/pipeline/run-on-backbone.js';
import { runThreePhase } from '../lib/pipeline/run-three-phase.js';
import { Classifier } from '../lib/serve/classifier.js';
import { headLogits } from '../lib/train/fine-tune-head.js';
import { removeTemporaryFolders, tinyDataset } from './harness-fixtures.js';

const { onnx } = onnxProto;
const run = promisify(execFile);
const eos = resolve(packageRoot, 'dist/lib/cli/eos.js');

test.after.always(removeTemporaryFolders);

function tinyConfig(dataDir: string, outDir: string): RunConfig {
  const base = structuredClone(PRESETS.quick);
  return {
    ...base,
    dataset: 'npy',
    dataDir,
    imbalance: { ...base.imbalance, ratio: 4 },
    depth: 8,
    threads: 1,
    phase1: { ...base.phase1, epochs: 2, batch: 16, warmupEpochs: 1 },
    phase3: { ...base.phase3, epochs: 3 },
    outDir,
  };
}

const maxAbsDiff = (a: Float32Array, b: Float32Array) => {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
};

test('phases 2-3 on an exported ResNet as the ONNX backbone: the built-in numbers, and one joined model', async (t) => {
  const data = await tinyDataset();
  const dir = mkdtempSync(join(tmpdir(), 'eos-backbone-'));
  const builtIn = await runThreePhase(tinyConfig(data, join(dir, 'built-in')));

  // The same backbone, through onnxruntime: the embeddings agree to float rounding.
  const split = await loadDataset('npy', { dataDir: data });
  const backbone = await OnnxBackbone.load(builtIn.files.onnx);
  t.is(backbone.outputName, 'embedding', 'the output named embedding is taken by default');
  t.true(backbone.takesRawPixels, 'our own exported model normalises inside its graph');
  const viaOnnx = await backbone.embed(split.test.images, split.test.shape);
  await backbone.release();
  const model = ResNet.load(builtIn.files.model);
  const native = await model.embed({ images: split.test.images, shape: split.test.shape });
  model.dispose();
  t.is(viaOnnx.width, 64);
  t.true(
    maxAbsDiff(viaOnnx.embeddings, native) < 1e-4,
    `max |diff| ${maxAbsDiff(viaOnnx.embeddings, native)}`,
  );

  const onBackbone = await runOnBackbone(tinyConfig(data, join(dir, 'onnx')), { model: builtIn.files.onnx });
  t.deepEqual(
    onBackbone.methods.map((m) => m.name),
    builtIn.methods.map((m) => m.name),
  );
  for (const [i, m] of onBackbone.methods.entries()) {
    const reference = builtIn.methods[i].test.balancedAccuracy;
    // Float rounding of the embeddings may move a test image across a decision boundary, rarely more.
    t.true(
      Math.abs(m.test.balancedAccuracy - reference) <= 1 / 12,
      `${m.name}: ${m.test.balancedAccuracy} vs ${reference}`,
    );
  }
  t.is(onBackbone.data.dim, 64);
  t.regex(
    readFileSync(onBackbone.files.report, 'utf8'),
    /^# eos: phases 2 and 3 on the embeddings of .*model\.onnx \(output embedding\)/,
  );

  // The joined model predicts what the backbone's embeddings through the saved head predict.
  const head = readSafetensors(onBackbone.files.head);
  const joined = await Classifier.load(onBackbone.files.onnx!);
  t.deepEqual(joined.inputShape, [1, 8, 8]);
  const pixels = split.test.images;
  const logits = await joined.logits(pixels);
  const embedded = await OnnxBackbone.load(builtIn.files.onnx);
  const { embeddings } = await embedded.embed(pixels, split.test.shape);
  await embedded.release();
  const weight = head.tensors.get('linear.weight')!;
  const twoStep = headLogits(
    {
      head: 'linear',
      dim: 64,
      classes: 4,
      weight: weight.data as Float32Array,
      bias: head.tensors.get('linear.bias')!.data as Float32Array,
      losses: [],
    },
    embeddings,
  );
  t.true(maxAbsDiff(logits, twoStep) < 1e-4, `max |diff| ${maxAbsDiff(logits, twoStep)}`);
  const labels = (await joined.predict(pixels)).labels;
  for (let i = 0; i < labels.length; i++) {
    const row = twoStep.subarray(i * 4, i * 4 + 4);
    t.is(labels[i], row.indexOf(Math.max(...row)));
  }
  await joined.close();
});

/** A one-input model: `nodes` over input x [N, 1, side, side] (side fixed, or 'h' for free), output y. */
function tinyModel(
  nodes: { op: string; inputs: string[]; attrs?: object[] }[],
  outDims: (number | string)[],
  side: number | string = 8,
) {
  const info = (name: string, dims: (number | string)[]) => ({
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
      },
    },
  });
  const node = nodes.map((n, i) => ({
    opType: n.op,
    input: n.inputs,
    output: [i === nodes.length - 1 ? 'y' : `t${i}`],
    attribute: n.attrs ?? [],
  }));
  const model = onnx.ModelProto.create({
    irVersion: 7,
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: 'tiny',
      node,
      input: [info('x', ['n', 1, side, side])],
      output: [info('y', outDims)],
    },
  });
  const path = join(mkdtempSync(join(tmpdir(), 'eos-tiny-onnx-')), 'm.onnx');
  writeFileSync(path, onnx.ModelProto.encode(model).finish());
  return path;
}

test('a backbone the data does not fit, or whose output is no embedding, is named with what is wrong', async (t) => {
  const images = new Uint8Array(2 * 64).fill(100);
  const shape: [number, number, number, number] = [2, 1, 8, 8];
  const flatten = { op: 'Flatten', inputs: ['x'], attrs: [{ name: 'axis', type: 2, i: 1 }] };

  const fourD = tinyModel([{ op: 'Identity', inputs: ['x'] }], ['n', 1, 8, 8]);
  await t.throwsAsync(OnnxBackbone.load(fourD), {
    message: /m\.onnx: the output y has shape \[n, 1, 8, 8\]; embeddings must be \[N, D\]/,
  });

  const sixteen = tinyModel(
    [
      { op: 'GlobalAveragePool', inputs: ['x'] },
      { ...flatten, inputs: ['t0'] },
    ],
    ['n', 1],
    16,
  );
  const wantsSixteen = await OnnxBackbone.load(sixteen);
  t.throws(() => wantsSixteen.transformFor(1, 8), {
    message:
      /m\.onnx: the model takes 16x16 images and would get 8x8 ones \(the data set's size; resize them: --input-size 16\)/,
  });
  await wantsSixteen.release();
  // --input-size: the images are resized inside the graph (bilinear); a flat image stays flat.
  const resized = await OnnxBackbone.load(sixteen, { inputSize: 16 });
  const flat = await resized.embed(images, shape);
  t.is(flat.width, 1);
  t.true(Math.abs(flat.embeddings[0] - 100 / 255) < 1e-6 && Math.abs(flat.embeddings[1] - 100 / 255) < 1e-6);
  await resized.release();
  await t.throwsAsync(OnnxBackbone.load(sixteen, { inputSize: 12 }), {
    message: /m\.onnx: the model takes 16x16 images; --input-size 12 would not fit/,
  });

  // sqrt(pixel / 255 - 1) of a grey 100 is NaN: a model spoiled for this input.
  const nan = await OnnxBackbone.load(tinyModel([flatten, { op: 'Sqrt', inputs: ['t0'] }], ['n', 64]), {
    mean: [1],
  });
  await t.throwsAsync(nan.embed(images, shape), {
    message: /m\.onnx: the embedding of image 0 is not finite \(NaN in column 0\)/,
  });
  await nan.release();

  // The normalisation is checked against the model at load, before any data set is read.
  await t.throwsAsync(OnnxBackbone.load(tinyModel([flatten], ['n', 64]), { std: [0] }), {
    message: /m\.onnx: std: expected finite numbers > 0, got 0/,
  });
  await t.throwsAsync(OnnxBackbone.load(tinyModel([flatten], ['n', 64]), { mean: [0.1, 0.2, 0.3] }), {
    message: /m\.onnx: mean: expected 1 value \(the model takes 1 channel\), got 3/,
  });
  const plain = await OnnxBackbone.load(tinyModel([flatten], ['n', 64]));
  t.throws(() => plain.transformFor(3, 8), {
    message: /m\.onnx: the model takes 1-channel images and the data set has 3-channel ones/,
  });
  await plain.release();

  const dir = mkdtempSync(join(tmpdir(), 'eos-not-onnx-'));
  writeFileSync(join(dir, 'empty.onnx'), '');
  await t.throwsAsync(OnnxBackbone.load(join(dir, 'empty.onnx')), {
    message: /empty\.onnx: not a valid ONNX model \(onnxruntime: /,
  });
  await t.throwsAsync(OnnxBackbone.load(dir), { message: /is a directory, expected an ONNX model file/ });
  await t.throwsAsync(OnnxBackbone.load(join(dir, 'missing.onnx')), {
    message: /missing\.onnx: cannot read the backbone model \(ENOENT\)/,
  });
  const two = tinyModel([flatten], ['n', 64]);
  await t.throwsAsync(OnnxBackbone.load(two, { embeddingOutput: 'features' }), {
    message: /there is no output named features; the model's outputs are y/,
  });
});

test('eos fit-head: phases 2-3 on NPY embeddings from elsewhere, and its input checks', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'eos-fit-head-'));
  // Two well-separated 3-d classes of 30 and 6 rows; a test set of 5 per class.
  const rows = (n: number, centre: number, salt: number) =>
    Float32Array.from({ length: n * 3 }, (_, i) => centre + Math.sin(i * 7.1 + salt) * 0.3);
  const x = new Float32Array([...rows(30, 0, 1), ...rows(6, 2, 2)]);
  const y = Int32Array.from({ length: 36 }, (_, i) => (i < 30 ? 0 : 1));
  const tx = new Float32Array([...rows(5, 0, 3), ...rows(5, 2, 4)]);
  const ty = Int32Array.from({ length: 10 }, (_, i) => (i < 5 ? 0 : 1));
  const file = (name: string) => join(dir, name);
  await writeNpy(file('x.npy'), x, [36, 3]);
  await writeNpy(file('y.npy'), y, [36]);
  await writeNpy(file('tx.npy'), tx, [10, 3]);
  await writeNpy(file('ty.npy'), ty, [10]);
  const args = (over: Record<string, string> = {}) => {
    const f = {
      '-e': 'x.npy',
      '-l': 'y.npy',
      '--test-embeddings': 'tx.npy',
      '--test-labels': 'ty.npy',
      ...over,
    };
    return ['fit-head', ...Object.entries(f).flatMap(([k, v]) => [k, file(v)])];
  };
  const out = join(dir, 'out');
  const ok = await run(process.execPath, [
    eos,
    ...args(),
    '--compare',
    'none,smote',
    '--head-epochs',
    '20',
    '--out',
    out,
  ]);
  t.regex(ok.stdout, /\| eos \(main\) \| 100\.00 \|/);
  const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  t.deepEqual(results.data, { train: 36, test: 10, validation: 0, classCounts: [30, 6], dim: 3 });
  t.is(results.methods.find((m: { name: string }) => m.name === 'eos').synthetic, 24);
  t.deepEqual(readSafetensors(join(out, 'head.safetensors')).tensors.get('linear.weight')?.shape, [2, 3]);

  await writeNpy(file('y35.npy'), y.subarray(0, 35), [35]);
  await writeNpy(
    file('ygap.npy'),
    Int32Array.from(y, (v) => v * 2),
    [36],
  );
  const nan = x.slice();
  nan[7] = Number.NaN;
  await writeNpy(file('xnan.npy'), nan, [36, 3]);
  await writeNpy(file('t4.npy'), new Float32Array(40), [10, 4]);
  for (const [over, says] of [
    [{ '-l': 'y35.npy' }, /y35\.npy: 35 labels for the 36 rows of .*x\.npy/],
    [
      { '-l': 'ygap.npy' },
      /ygap\.npy: no training row has label 1; labels must be 0\.\.C-1 with every class present/,
    ],
    [{ '-e': 'xnan.npy' }, /xnan\.npy: row 2 has a non-finite value \(NaN\)/],
    [{ '--test-embeddings': 't4.npy' }, /t4\.npy: 4 columns, but the training embeddings .* have 3/],
  ] as const) {
    const err = await t.throwsAsync(run(process.execPath, [eos, ...args(over), '--out', join(dir, 'bad')]));
    t.regex(String((err as { stderr?: string }).stderr), says);
  }
  t.false(existsSync(join(dir, 'bad')), 'nothing written for refused input');
});

test('a backbone of another embedding width: phases 2-3 on it, and the joined model serves that width', async (t) => {
  const data = await tinyDataset();
  // Embedding = [mean pixel, max pixel] of the image: 2 columns, not our 64.
  const flatten = (input: string) => ({
    op: 'Flatten',
    inputs: [input],
    attrs: [{ name: 'axis', type: 2, i: 1 }],
  });
  const backbone = tinyModel(
    [
      { op: 'GlobalAveragePool', inputs: ['x'] },
      { op: 'GlobalMaxPool', inputs: ['x'] },
      { op: 'Concat', inputs: ['t0', 't1'], attrs: [{ name: 'axis', type: 2, i: 1 }] },
      flatten('t2'),
    ],
    ['n', 2],
  );
  const out = join(mkdtempSync(join(tmpdir(), 'eos-backbone-2d-')), 'run');
  const r = await runOnBackbone({ ...tinyConfig(data, out), compareWith: ['none'] }, { model: backbone });
  t.is(r.data.dim, 2);
  const served = await Classifier.load(r.files.onnx!);
  t.is(served.embeddingDim, 2);
  const split = await loadDataset('npy', { dataDir: data });
  const rows = await served.embed(split.test.images.subarray(0, 3 * 64));
  t.is(rows.length, 3 * 2);
  await served.close();
});
