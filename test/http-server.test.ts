import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import test from 'ava';
import { exportOnnx } from '../lib/model/onnx-export.js';
import { readStateDict, weightsOf } from '../lib/model/state-dict.js';
import { packageRoot } from '../lib/native.js';
import { Classifier } from '../lib/serve/classifier.js';
import { serve } from '../lib/serve/http-server.js';

const IMAGE = 28 * 28;

test('the HTTP service answers correctly, refuses every kind of bad request with a 4xx, and shuts down cleanly', async (t) => {
  const state = readStateDict(
    resolve(packageRoot, 'test/fixtures/torch-interop/resnet8-1ch-linear.model.safetensors'),
  );
  const path = join(mkdtempSync(join(tmpdir(), 'eos-http-')), 'model.onnx');
  exportOnnx(weightsOf(state, { mean: [0.286], std: [0.353] }), path);
  const clf = await Classifier.load(path);
  const running = await serve(clf, { port: 0, maxImagesPerRequest: 4 });
  t.regex(running.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const post = (body: BodyInit, type: string) =>
    fetch(`${running.url}/predict`, { method: 'POST', body, headers: { 'content-type': type } });

  const health = await fetch(`${running.url}/health`);
  t.is(health.status, 200);
  t.deepEqual(await health.json(), { status: 'ok', classes: 10, inputShape: [1, 28, 28] });

  const images = Uint8Array.from({ length: 2 * IMAGE }, (_, i) => (i * 7) % 256);
  const expected = await clf.predict(images);
  const raw = await post(images, 'application/octet-stream');
  t.is(raw.status, 200);
  const rawBody = (await raw.json()) as { labels: number[]; probabilities: number[][] };
  t.deepEqual(rawBody.labels, Array.from(expected.labels));
  t.is(rawBody.probabilities.length, 2);
  const json = await post(
    JSON.stringify({ images: [Array.from(images.subarray(0, IMAGE))] }),
    'application/json',
  );
  t.is(json.status, 200);
  t.deepEqual(((await json.json()) as { labels: number[] }).labels, [expected.labels[0]]);

  const expectError = async (res: Response, status: number, pattern: RegExp) => {
    t.is(res.status, status);
    t.regex(((await res.json()) as { error: string }).error, pattern);
  };
  await expectError(
    await post(new Uint8Array(IMAGE + 3), 'application/octet-stream'),
    400,
    /whole images of 784 bytes/,
  );
  await expectError(await post('{"images": [1, 2', 'application/json'), 400, /malformed JSON/);
  await expectError(await post('{"pictures": []}', 'application/json'), 400, /\{"images"/);
  await expectError(
    await post(JSON.stringify({ images: [[1, 2, 3]] }), 'application/json'),
    400,
    /images\[0\] must be an array of 784/,
  );
  const bad = Array.from({ length: IMAGE }, () => 0) as unknown[];
  bad[9] = 'x';
  await expectError(
    await post(JSON.stringify({ images: [bad] }), 'application/json'),
    400,
    /images\[0\]\[9\] must be a number in \[0, 255\]/,
  );
  await expectError(
    await post(new Uint8Array(5 * IMAGE), 'application/octet-stream'),
    413,
    /exceeds the limit/,
  );
  await expectError(await post('hello', 'text/plain'), 415, /Content-Type must be/);
  await expectError(await fetch(`${running.url}/predict`), 405, /use POST/);
  await expectError(await fetch(`${running.url}/health`, { method: 'DELETE' }), 405, /use GET/);
  await expectError(await fetch(`${running.url}/nowhere`), 404, /no route \/nowhere/);

  // Still alive and correct after all of that.
  t.is((await post(images, 'application/octet-stream')).status, 200);
  await running.close();
  await clf.close();
  await t.throwsAsync(fetch(`${running.url}/health`));
});
