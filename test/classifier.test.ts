import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import test from 'ava';
import { exportOnnx } from '../lib/model/onnx-export.js';
import { readSafetensors } from '../lib/model/safetensors.js';
import { readStateDict, weightsOf } from '../lib/model/state-dict.js';
import { packageRoot } from '../lib/native.js';
import { Classifier } from '../lib/serve/classifier.js';

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
