// ONNX export checked end to end against PyTorch: the committed fixtures hold a PyTorch-written state dict,
// input images, and PyTorch's eval-mode logits and embeddings (test/fixtures/torch-interop/make_fixtures.py).
import { existsSync, mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import test from 'ava';
import * as ort from 'onnxruntime-node';
import { exportOnnx } from '../lib/model/onnx-export.js';
import { readSafetensors } from '../lib/model/safetensors.js';
import { readStateDict, weightsOf } from '../lib/model/state-dict.js';
import { packageRoot } from '../lib/native.js';

const fixtures = resolve(packageRoot, 'test/fixtures/torch-interop');

function maxRelativeError(got: Float32Array, want: Float32Array): number {
  let scale = 0;
  for (const v of want) scale = Math.max(scale, Math.abs(v));
  let err = 0;
  for (let i = 0; i < want.length; i++) err = Math.max(err, Math.abs(got[i] - want[i]));
  return err / scale;
}

for (const name of ['resnet8-1ch-linear', 'resnet8-3ch-cosine']) {
  test(`${name}: a PyTorch state dict loads, and its ONNX export reproduces PyTorch's logits and embeddings`, async (t) => {
    const state = readStateDict(join(fixtures, `${name}.model.safetensors`));
    const meta = state.metadata;
    t.is(String(state.spec.head), meta.head);
    t.is(state.spec.classes, Number(meta.classes));
    t.is(state.spec.inputSize, Number(meta.side));
    const expected = readSafetensors(join(fixtures, `${name}.expected.safetensors`)).tensors;
    const images = expected.get('images')!;
    const path = join(mkdtempSync(join(tmpdir(), 'eos-onnx-')), 'model.onnx');
    const normalization = { mean: JSON.parse(meta.mean), std: JSON.parse(meta.std) };
    exportOnnx(weightsOf(state, normalization), path, {
      outputs: ['logits', 'embedding'],
      libraryVersion: 'test',
    });

    const session = await ort.InferenceSession.create(path);
    t.deepEqual(session.inputNames, ['pixels']);
    t.deepEqual(session.outputNames, ['logits', 'embedding']);
    const pixels = Float32Array.from(images.data as Uint8Array);
    const result = await session.run({ pixels: new ort.Tensor('float32', pixels, images.shape) });
    const logits = result.logits.data as Float32Array;
    const embedding = result.embedding.data as Float32Array;
    t.deepEqual(result.logits.dims, [images.shape[0], state.spec.classes]);
    t.true(maxRelativeError(logits, expected.get('logits')!.data as Float32Array) < 1e-4);
    t.true(maxRelativeError(embedding, expected.get('embedding')!.data as Float32Array) < 1e-4);

    // Dynamic batch: a single image gives the same row.
    const one = await session.run({
      pixels: new ort.Tensor('float32', pixels.subarray(0, pixels.length / images.shape[0]), [
        1,
        ...images.shape.slice(1),
      ]),
    });
    t.true(maxRelativeError(one.logits.data as Float32Array, logits.subarray(0, state.spec.classes)) < 1e-5);
    await session.release();
  });
}

test('metadata records classes, input shape, normalisation and version; outputs can be logits only', async (t) => {
  const state = readStateDict(join(fixtures, 'resnet8-1ch-linear.model.safetensors'));
  const path = join(mkdtempSync(join(tmpdir(), 'eos-onnx-')), 'model.onnx');
  exportOnnx(weightsOf(state, { mean: [0.5], std: [0.25] }), path, { libraryVersion: '9.9.9' });
  const session = await ort.InferenceSession.create(path);
  t.deepEqual(session.outputNames, ['logits']);
  await session.release();
  const { onnx } = (await import('onnx-proto')).default;
  const { readFileSync } = await import('node:fs');
  const model = onnx.ModelProto.decode(readFileSync(path));
  const meta = Object.fromEntries(model.metadataProps.map((p) => [p.key, p.value]));
  t.is(meta['eos.classes'], '10');
  t.is(meta['eos.input_shape'], '[1,28,28]');
  t.deepEqual(JSON.parse(meta['eos.normalization']), { mean: [0.5], std: [0.25] });
  t.is(meta['eos.library_version'], '9.9.9');
  t.is(Number(model.opsetImport[0].version), 13);
});

test('bad export options and incomplete state dicts give clear errors', (t) => {
  const state = readStateDict(join(fixtures, 'resnet8-1ch-linear.model.safetensors'));
  const path = join(mkdtempSync(join(tmpdir(), 'eos-onnx-')), 'model.onnx');
  const weights = weightsOf(state, { mean: [0.5], std: [0.25] });
  t.throws(() => exportOnnx(weights, path, { outputs: [] }), { message: /outputs must be a non-empty list/ });
  t.throws(() => exportOnnx(weights, path, { outputs: ['probs' as 'logits'] }), {
    message: /outputs must be/,
  });
  state.tensors.delete('layer2.0.bn1.running_var');
  t.throws(() => exportOnnx(weightsOf(state, { mean: [0.5], std: [0.25] }), path), {
    message: /missing float32 tensor layer2\.0\.bn1\.running_var/,
  });
});

test('a normalisation that would make a NaN model is refused before anything is written', (t) => {
  const state = readStateDict(join(fixtures, 'resnet8-1ch-linear.model.safetensors'));
  const dir = mkdtempSync(join(tmpdir(), 'eos-onnx-'));
  const path = join(dir, 'model.onnx');
  const refused = (mean: unknown, std: unknown, message: RegExp) => {
    const err = t.throws(() =>
      exportOnnx(weightsOf(state, { mean, std } as { mean: number[]; std: number[] }), path),
    );
    t.regex(err!.message.split('\n')[0], message);
    t.deepEqual(readdirSync(dir), [], 'a refused export leaves no file, not even a temporary one');
  };
  refused([0.5], [0], /^normalization\.std must be a finite number > 0 .*, got 0 \(channel 0 of \[0\]\)$/);
  refused([0.5], [-1], /^normalization\.std must be a finite number > 0 .*, got -1 /);
  refused([0.5], [Number.NaN], /^normalization\.std must be a finite number > 0 .*, got NaN /);
  refused([0.5], [Number.POSITIVE_INFINITY], /^normalization\.std .* got Infinity /);
  refused([Number.NaN], [0.3], /^normalization\.mean must be a finite number for every channel, got NaN /);
  refused(
    [0.5, 0.5, 0.5],
    [0.3],
    /^normalization\.mean has 3 value\(s\) \[0\.5, 0\.5, 0\.5\], the model has 1 input channel/,
  );
  refused([0.5], [], /^normalization\.std has 0 value\(s\)/);
  refused([0.5], 0.3, /^normalization\.std must be a list of 1 number/);
  refused(undefined, [0.3], /^normalization\.mean must be a list/);

  // Non-finite weights (a diverged run) and impossible BN statistics give NaN outputs just the same.
  const nan = readStateDict(join(fixtures, 'resnet8-1ch-linear.model.safetensors'));
  (nan.tensors.get('layer1.0.conv2.weight')!.data as Float32Array)[7] = Number.NaN;
  t.throws(() => exportOnnx(weightsOf(nan, { mean: [0.5], std: [0.25] }), path), {
    message: /^tensor layer1\.0\.conv2\.weight holds NaN at index 7: the weights are not finite/,
  });
  const negative = readStateDict(join(fixtures, 'resnet8-1ch-linear.model.safetensors'));
  (negative.tensors.get('bn1.running_var')!.data as Float32Array)[0] = -1;
  t.throws(() => exportOnnx(weightsOf(negative, { mean: [0.5], std: [0.25] }), path), {
    message: /^tensor bn1\.running_var holds a negative variance/,
  });
  t.deepEqual(readdirSync(dir), []);
});

test('an output path that cannot be written is refused before the model is built', (t) => {
  const state = readStateDict(join(fixtures, 'resnet8-1ch-linear.model.safetensors'));
  const weights = weightsOf(state, { mean: [0.5], std: [0.25] });
  const dir = mkdtempSync(join(tmpdir(), 'eos-onnx-'));
  mkdirSync(join(dir, 'taken.onnx'));
  t.throws(() => exportOnnx(weights, join(dir, 'taken.onnx')), {
    message: `exportOnnx: path ${join(dir, 'taken.onnx')}: is a directory, expected a file name`,
  });
  t.throws(() => exportOnnx(weights, join(dir, 'missing', 'm.onnx')), {
    message: `exportOnnx: path ${join(dir, 'missing', 'm.onnx')}: the directory ${join(dir, 'missing')} does not exist`,
  });
  t.deepEqual(readdirSync(dir), ['taken.onnx']);
  t.false(existsSync(join(dir, 'missing')));
});

for (const [channels, head, outputs] of [
  [1, 'linear', ['logits']],
  [3, 'cosine', ['logits', 'embedding']],
] as const) {
  test(`onnxruntime-node equals the native engine on 300 images (${channels} channel(s), ${head} head, outputs ${outputs.join('+')})`, async (t) => {
    const { ResNet } = await import('../lib/model/resnet.js');
    const side = 12;
    const model = ResNet.create({
      depth: 8,
      inChannels: channels,
      inputSize: side,
      classes: 5,
      head,
      seed: 4,
      normalization: { mean: new Array(channels).fill(0.4), std: new Array(channels).fill(0.3) },
    });
    const n = 300;
    const size = channels * side * side;
    const images = Uint8Array.from({ length: n * size }, (_, i) => (i * 29 + ((i * i) % 97)) % 256);
    const labels = Int32Array.from({ length: n }, (_, i) => i % 5);
    const shape: [number, number, number, number] = [n, channels, side, side];
    // One epoch so that batch-norm statistics and weights are far from their initial values.
    await model.trainEpoch(
      { images, shape },
      {
        order: Int32Array.from({ length: n }, (_, i) => i),
        labels,
        epoch: 0,
        lr: 0.05,
        batch: 50,
        loss: { kind: 'ce' },
      },
    );
    const native = await model.predict({ images, shape }, { embeddings: true });
    const path = join(mkdtempSync(join(tmpdir(), 'eos-onnx-')), 'model.onnx');
    exportOnnx(model.snapshot(), path, { outputs: [...outputs] });
    const session = await ort.InferenceSession.create(path);
    const result = await session.run({ pixels: new ort.Tensor('float32', Float32Array.from(images), shape) });
    t.true(maxRelativeError(result.logits.data as Float32Array, native.logits!) < 1e-4);
    if (outputs.length === 2)
      t.true(maxRelativeError(result.embedding.data as Float32Array, native.embeddings!) < 1e-4);
    else t.false('embedding' in result);
    await session.release();
    model.dispose();
  });
}
