import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import test from 'ava';
import onnxProto from 'onnx-proto';
import { exportOnnx } from '../lib/model/onnx-export.js';
import { readSafetensors } from '../lib/model/safetensors.js';
import { readStateDict, weightsOf } from '../lib/model/state-dict.js';
import { packageRoot } from '../lib/native.js';
import { Classifier } from '../lib/serve/classifier.js';
import { serve } from '../lib/serve/http-server.js';

const fixtures = resolve(packageRoot, 'test/fixtures/torch-interop');
const IMAGE = 28 * 28;

function exportFixture(outputs: ('logits' | 'embedding')[]): string {
  const state = readStateDict(join(fixtures, 'resnet8-1ch-linear.model.safetensors'));
  const path = join(mkdtempSync(join(tmpdir(), 'eos-clf-')), 'model.onnx');
  exportOnnx(weightsOf(state, { mean: [0.286], std: [0.353] }), path, { outputs });
  return path;
}

test('predict gives PyTorch-consistent labels and probabilities that sum to 1', async (t) => {
  const state = readStateDict(join(fixtures, 'resnet8-1ch-linear.model.safetensors'));
  const path = join(mkdtempSync(join(tmpdir(), 'eos-clf-')), 'model.onnx');
  exportOnnx(
    weightsOf(state, { mean: JSON.parse(state.metadata.mean), std: JSON.parse(state.metadata.std) }),
    path,
  );
  const expected = readSafetensors(join(fixtures, 'resnet8-1ch-linear.expected.safetensors')).tensors;
  const logits = expected.get('logits')!.data as Float32Array;
  const clf = await Classifier.load(path);
  t.deepEqual(clf.inputShape, [1, 28, 28]);
  const { labels, probabilities } = await clf.predict(expected.get('images')!.data as Uint8Array);
  t.is(labels.length, 6);
  for (let i = 0; i < 6; i++) {
    const row = Array.from(logits.subarray(i * 10, i * 10 + 10));
    t.is(labels[i], row.indexOf(Math.max(...row)));
    const p = probabilities.subarray(i * 10, i * 10 + 10);
    t.true(Math.abs(p.reduce((a, b) => a + b, 0) - 1) < 1e-5);
  }
  await clf.close();
});

test('200 concurrent calls are micro-batched and each caller gets its own rows', async (t) => {
  const path = exportFixture(['logits', 'embedding']);
  const reference = await Classifier.load(path, { maxBatch: 1 });
  const clf = await Classifier.load(path, { maxBatch: 32, maxWaitMs: 5 });
  let seed = 12345;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const requests = Array.from({ length: 200 }, (_, i) => {
    const count = 1 + (i % 3);
    return Uint8Array.from({ length: count * IMAGE }, () => Math.floor(random() * 256));
  });
  const results = await Promise.all(requests.map((r) => clf.logits(r)));
  const embeddings = await Promise.all(requests.slice(0, 20).map((r) => clf.embed(r)));
  t.true(clf.stats.runs < 40, `${clf.stats.runs} runs for 200 calls: micro-batching did not batch`);
  for (let i = 0; i < requests.length; i++) {
    const own = await reference.logits(requests[i]);
    t.is(results[i].length, own.length);
    const err = results[i].reduce((m, v, j) => Math.max(m, Math.abs(v - own[j])), 0);
    t.true(err < 1e-4, `caller ${i}: max difference ${err}`);
  }
  for (let i = 0; i < 20; i++) t.deepEqual(embeddings[i], await reference.embed(requests[i]));
  await Promise.all([clf.close(), reference.close()]);
});

test('bad inputs are rejected with clear errors and do not poison the batch of others', async (t) => {
  const clf = await Classifier.load(exportFixture(['logits']));
  const good = clf.predict(new Uint8Array(IMAGE));
  await t.throwsAsync(clf.predict(new Uint8Array(IMAGE + 1)), {
    message: /whole number of 1x28x28 images \(784 values each\), got 785/,
  });
  await t.throwsAsync(clf.predict(new Uint8Array(0)), { instanceOf: RangeError });
  await t.throwsAsync(clf.predict([1, 2, 3] as unknown as Uint8Array), { instanceOf: TypeError });
  await t.throwsAsync(
    clf.predict(Float32Array.from({ length: IMAGE }, (_, i) => (i === 5 ? Number.NaN : 0))),
    {
      message: /images\[5\] is not finite/,
    },
  );
  await t.throwsAsync(clf.embed(new Uint8Array(IMAGE)), { message: /no 'embedding' output/ });
  t.is((await good).labels.length, 1);
  await clf.close();
  await t.throwsAsync(clf.predict(new Uint8Array(IMAGE)), { message: /closed/ });
});

/** Rewrites an exported model (its decoded ModelProto) into a new file, for models our exporter refuses to write. */
function patchedModel(edit: (model: ReturnType<typeof onnxProto.onnx.ModelProto.decode>) => void): string {
  const { onnx } = onnxProto;
  const model = onnx.ModelProto.decode(readFileSync(exportFixture(['logits'])));
  edit(model);
  const path = join(mkdtempSync(join(tmpdir(), 'eos-clf-')), 'patched.onnx');
  writeFileSync(path, onnx.ModelProto.encode(model).finish());
  return path;
}

const firstLine = (err: Error | undefined) => err?.message.split('\n')[0];

test('a model whose outputs are NaN (exported with std 0 before export refused it) is refused at load', async (t) => {
  // What the old exporter wrote for --std 0: scale 1/(255*0) = Infinity, shift -mean/0 = -Infinity.
  const path = patchedModel((model) => {
    for (const init of model.graph!.initializer!) {
      if (init.name === 'normalize.scale') init.rawData = new Uint8Array(Float32Array.of(Infinity).buffer);
      if (init.name === 'normalize.shift') init.rawData = new Uint8Array(Float32Array.of(-Infinity).buffer);
    }
  });
  const err = await t.throwsAsync(Classifier.load(path));
  t.is(
    firstLine(err),
    `${path}: the model's outputs are not finite on a probe batch (logits[0] = NaN for an all-zero and a mid-grey image): its weights or normalisation (std must be > 0) are broken; export it again`,
  );
});

test('non-finite logits for one caller reject that caller only, never answer NaN', async (t) => {
  // Scale 1 instead of 1/(255 std): finite on the probe images, overflowing on huge float inputs.
  const path = patchedModel((model) => {
    for (const init of model.graph!.initializer!) {
      if (init.name === 'normalize.scale') init.rawData = new Uint8Array(Float32Array.of(1).buffer);
    }
  });
  const clf = await Classifier.load(path, { maxWaitMs: 20 });
  const [huge, fine] = await Promise.allSettled([
    clf.predict(new Float32Array(2 * IMAGE).fill(3e38)),
    clf.predict(new Uint8Array(IMAGE)),
  ]);
  t.is(clf.stats.runs, 1, 'both calls shared one batch');
  t.is(huge.status, 'rejected');
  t.is(
    (huge as PromiseRejectedResult).reason.message,
    "the model's logits are not finite for image 0 of this call",
  );
  t.is(fine.status, 'fulfilled');
  t.true(
    (fine as PromiseFulfilledResult<{ probabilities: Float32Array }>).value.probabilities.every(
      Number.isFinite,
    ),
  );
  await clf.close();
});

test('an empty file, garbage, a directory or a missing file are refused with the path and a plain reason', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'eos-clf-'));
  const empty = join(dir, 'empty.onnx');
  writeFileSync(empty, new Uint8Array(0));
  t.is(
    firstLine(await t.throwsAsync(Classifier.load(empty))),
    `${empty}: not a valid ONNX model (onnxruntime: ModelProto does not have a graph.)`,
  );
  const garbage = join(dir, 'garbage.onnx');
  writeFileSync(garbage, 'this is not a protobuf at all \u0000\u00ff\u00fe');
  t.is(
    firstLine(await t.throwsAsync(Classifier.load(garbage))),
    `${garbage}: not a valid ONNX model (onnxruntime: Protobuf parsing failed.)`,
  );
  const folder = join(dir, 'model.onnx');
  mkdirSync(folder);
  t.is(
    firstLine(await t.throwsAsync(Classifier.load(folder))),
    `${folder} is a directory, expected an ONNX file`,
  );
  const missing = join(dir, 'missing.onnx');
  t.is(
    firstLine(await t.throwsAsync(Classifier.load(missing))),
    `${missing} does not exist, expected an ONNX file`,
  );
});

test('missing or bad eos metadata, and metadata that disagrees with the graph, name the model file', async (t) => {
  const withMetadata = (key: string, value: string | undefined) =>
    patchedModel((model) => {
      model.metadataProps = model.metadataProps.filter((p) => p.key !== key);
      if (value !== undefined)
        model.metadataProps.push(onnxProto.onnx.StringStringEntryProto.create({ key, value }));
    });
  const cases: [string, string | undefined, string][] = [
    ['eos.classes', undefined, 'the model metadata lacks eos.input_shape / eos.classes'],
    ['eos.classes', 'ten', 'metadata eos.classes must be an integer >= 2, got "ten"'],
    ['eos.input_shape', '[1,28]', 'metadata eos.input_shape must be [channels, height, width], got "[1,28]"'],
    [
      'eos.input_shape',
      '{not json',
      'metadata eos.input_shape must be [channels, height, width], got "{not json"',
    ],
    ['eos.logit_scale', '0', 'metadata eos.logit_scale must be a finite number > 0, got "0"'],
    [
      'eos.class_names',
      '["a","b"]',
      'metadata eos.class_names must be a JSON list of 10 names, got ["a","b"]',
    ],
  ];
  for (const [key, value, reason] of cases) {
    const path = withMetadata(key, value);
    t.is(
      firstLine(await t.throwsAsync(Classifier.load(path))),
      `${path}: ${reason}; export the model with eos export (or exportOnnx)`,
    );
  }
  const wrongShape = withMetadata('eos.input_shape', '[3,28,28]');
  const shapeError = firstLine(await t.throwsAsync(Classifier.load(wrongShape)))!;
  t.true(
    shapeError.startsWith(
      `${wrongShape}: the model does not run on its declared input shape [3, 28, 28] (onnxruntime: `,
    ),
    shapeError,
  );
  t.regex(shapeError, /index: 1 Got: 3 Expected: 1/);
  t.notRegex(shapeError, /onnxruntime_src|\.cc:\d+/, 'no C++ source locations');
  const wrongClasses = withMetadata('eos.classes', '7');
  t.is(
    firstLine(await t.throwsAsync(Classifier.load(wrongClasses))),
    `${wrongClasses}: output 'logits' should hold 7 float32 values per image, got 20 for 2 images`,
  );
});

test('bad options are refused before the model is loaded', async (t) => {
  const path = exportFixture(['logits']);
  await t.throwsAsync(Classifier.load(path, { maxBatch: 0 }), {
    message: 'maxBatch must be an integer >= 1, got 0',
  });
  await t.throwsAsync(Classifier.load(path, { maxWaitMs: Number.NaN }), {
    message: 'maxWaitMs must be a number of milliseconds >= 0, got NaN',
  });
  await t.throwsAsync(Classifier.load(path, { intraOpThreads: -1 }), {
    message: 'intraOpThreads must be an integer >= 0, got -1',
  });
});

test('class names recorded at export are served with the labels; a wrong list is refused at load', async (t) => {
  const state = readStateDict(join(fixtures, 'resnet8-1ch-linear.model.safetensors'));
  const names = ['tee', 'trouser', 'pullover', 'dress', 'coat', 'sandal', 'shirt', 'sneaker', 'bag', 'boot'];
  const dir = mkdtempSync(join(tmpdir(), 'eos-clf-names-'));
  const path = join(dir, 'model.onnx');
  exportOnnx(weightsOf(state, { mean: [0.286], std: [0.353] }), path, { classNames: names });
  const clf = await Classifier.load(path);
  t.deepEqual(clf.classNames, names);
  const running = await serve(clf, { port: 0 });
  try {
    const health = await (await fetch(`${running.url}/health`)).json();
    t.deepEqual(health.classNames, names);
    const body = new Uint8Array(2 * IMAGE).fill(90);
    const reply = await fetch(`${running.url}/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body,
    });
    const predicted = await reply.json();
    t.deepEqual(
      predicted.names,
      predicted.labels.map((label: number) => names[label]),
    );
  } finally {
    await running.close();
    await clf.close();
  }
  t.throws(
    () =>
      exportOnnx(weightsOf(state, { mean: [0.286], std: [0.353] }), join(dir, 'short.onnx'), {
        classNames: names.slice(0, 3),
      }),
    { message: 'classNames: 3 names for a model of 10 classes' },
  );
});
