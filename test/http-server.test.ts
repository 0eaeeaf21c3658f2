import { mkdtempSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import test from 'ava';
import { exportOnnx } from '../lib/model/onnx-export.js';
import { readStateDict, weightsOf } from '../lib/model/state-dict.js';
import { packageRoot } from '../lib/native.js';
import { Classifier } from '../lib/serve/classifier.js';
import { type ServeOptions, serve } from '../lib/serve/http-server.js';

const IMAGE = 28 * 28;

/** The fixture model behind a service on a free port, with room for 4 images (3,200 raw bytes) a request. */
async function startService(options: ServeOptions = {}) {
  const state = readStateDict(
    resolve(packageRoot, 'test/fixtures/torch-interop/resnet8-1ch-linear.model.safetensors'),
  );
  const path = join(mkdtempSync(join(tmpdir(), 'eos-http-')), 'model.onnx');
  exportOnnx(weightsOf(state, { mean: [0.286], std: [0.353] }), path);
  const clf = await Classifier.load(path);
  const running = await serve(clf, { port: 0, maxImagesPerRequest: 4, ...options });
  const stop = async () => {
    await running.close();
    await clf.close();
  };
  return { clf, running, stop };
}

interface RawResponse {
  status: number;
  headers: string;
  body: string;
}

interface ChunkedResult {
  /** The responses read off the connection, in order. */
  responses: RawResponse[];
  /** Body bytes the client had written when it stopped. */
  sent: number;
  /** The client-side error, if the server cut the connection while the client was still sending. */
  error?: string;
}

/**
 * A client that POSTs up to `total` bytes with Transfer-Encoding: chunked (no Content-Length) on a raw TCP
 * socket, and keeps sending after a response has arrived: the worst case for a server that must refuse the
 * body without resetting the connection. (Node's http.request stops writing once it has a response.) When the
 * body is complete it sends `next` (a whole request) on the same connection, then half-closes.
 */
function postChunked(url: string, total: number, next = ''): Promise<ChunkedResult> {
  const { hostname, port } = new URL(url);
  return new Promise((done) => {
    const result: ChunkedResult = { responses: [], sent: 0 };
    const chunk = Buffer.concat([Buffer.from('10000\r\n'), Buffer.alloc(0x10000, 7), Buffer.from('\r\n')]);
    const socket = connect(Number(port), hostname);
    let input = Buffer.alloc(0);
    socket.on('data', (data: Buffer) => {
      input = Buffer.concat([input, data]);
      for (;;) {
        const end = input.indexOf('\r\n\r\n');
        if (end < 0) return;
        const headers = input.subarray(0, end).toString('latin1');
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(headers)?.[1] ?? 0);
        if (input.length < end + 4 + length) return;
        result.responses.push({
          status: Number(headers.split(' ')[1]),
          headers,
          body: input.subarray(end + 4, end + 4 + length).toString('utf8'),
        });
        input = input.subarray(end + 4 + length);
      }
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      result.error = err.code ?? err.message;
    });
    socket.on('close', () => done(result));
    socket.write(
      `POST /predict HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n`,
    );
    const pump = () => {
      while (result.sent < total && !socket.destroyed) {
        result.sent += 0x10000;
        if (!socket.write(chunk)) {
          socket.once('drain', pump);
          return;
        }
      }
      if (!socket.destroyed) socket.end(`0\r\n\r\n${next}`);
    };
    pump();
  });
}

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

test('HEAD /health is GET without a body; media types match case-insensitively and may carry parameters', async (t) => {
  const { running, stop } = await startService();
  const get = await fetch(`${running.url}/health`);
  const getBody = await get.text();
  const head = await fetch(`${running.url}/health`, { method: 'HEAD' });
  t.is(head.status, 200);
  t.is(head.headers.get('content-type'), 'application/json');
  t.is(head.headers.get('content-length'), String(Buffer.byteLength(getBody)));
  t.is((await head.arrayBuffer()).byteLength, 0);
  const headPredict = await fetch(`${running.url}/predict`, { method: 'HEAD' });
  t.is(headPredict.status, 405);
  t.is(headPredict.headers.get('allow'), 'POST');
  const deleteHealth = await fetch(`${running.url}/health`, { method: 'DELETE' });
  t.is(deleteHealth.status, 405);
  t.is(deleteHealth.headers.get('allow'), 'GET, HEAD');
  await deleteHealth.body?.cancel();

  const post = (body: BodyInit, type?: string) =>
    fetch(`${running.url}/predict`, {
      method: 'POST',
      body,
      headers: type === undefined ? {} : { 'content-type': type },
    });
  const raw = new Uint8Array(IMAGE);
  const json = JSON.stringify({ images: [Array.from(raw)] });
  for (const [body, type] of [
    [raw, 'Application/Octet-Stream'],
    [raw, 'APPLICATION/OCTET-STREAM ; foo=bar'],
    [json, 'application/json; charset=utf-8'],
    [json, 'Application/JSON;Charset="UTF-8"'],
  ] as const) {
    const res = await post(body, type);
    t.is(res.status, 200, type);
    t.deepEqual(((await res.json()) as { labels: number[] }).labels.length, 1);
  }
  const refused = async (body: BodyInit, type: string | undefined, pattern: RegExp) => {
    const res = await post(body, type);
    t.is(res.status, 415, String(type));
    t.regex(((await res.json()) as { error: string }).error, pattern);
  };
  await refused(
    json,
    'application/json; charset=iso-8859-1',
    /JSON bodies must be UTF-8, got charset=iso-8859-1/,
  );
  await refused(
    raw,
    'application/octet-streamed',
    /Content-Type must be .*, got "application\/octet-streamed"/,
  );
  await refused(raw, 'text/plain; charset=utf-8', /Content-Type must be .*, got "text\/plain"/);
  await refused(raw, undefined, /Content-Type must be .*, got none/);
  await stop();
});

test('a chunked body over the limit gets a 413 while the client is still sending, and the connection survives', async (t) => {
  // A generous linger: this test is about what the client receives, not about how fast a busy machine reads.
  const { running, stop } = await startService({ lingerMs: 60_000 });
  // 64 MiB against a 3,200-byte limit, no Content-Length: the server can only count bytes as they come. The
  // server answers at once and reads the rest away; the same connection then serves the next request.
  const total = 64 * 2 ** 20;
  const result = await postChunked(
    running.url,
    total,
    'GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n',
  );
  t.is(result.error, undefined, 'the client is not reset');
  t.is(result.sent, total);
  t.is(result.responses.length, 2);
  t.is(result.responses[0].status, 413);
  t.regex(result.responses[0].headers, /\r\ncontent-type: application\/json/i);
  t.deepEqual(JSON.parse(result.responses[0].body), {
    error: 'request body exceeds the limit of 3200 bytes',
  });
  t.is(result.responses[1].status, 200);

  // fetch (undici) streams a ReadableStream body chunked too; it stops uploading once the answer is in.
  let pulled = 0;
  const stream = new ReadableStream({
    pull(controller) {
      if (pulled >= total) return controller.close();
      pulled += 64 * 1024;
      controller.enqueue(new Uint8Array(64 * 1024));
    },
  });
  const res = await fetch(`${running.url}/predict`, {
    method: 'POST',
    body: stream,
    duplex: 'half',
    headers: { 'content-type': 'Application/Octet-Stream' },
  } as RequestInit);
  t.is(res.status, 413);
  t.regex(((await res.json()) as { error: string }).error, /exceeds the limit of 3200 bytes/);

  const ok = await fetch(`${running.url}/predict`, {
    method: 'POST',
    body: new Uint8Array(IMAGE),
    headers: { 'content-type': 'application/octet-stream' },
  });
  t.is(ok.status, 200);
  await ok.body?.cancel();
  await stop();
});

test('a client that never stops sending gets its 413, then is cut off after lingerMs instead of holding the server', async (t) => {
  const { running, stop } = await startService({ lingerMs: 100 });
  const bound = 8 * 2 ** 30; // a server that read on forever would let this client send all of it
  const t0 = performance.now();
  const result = await postChunked(running.url, bound);
  const ms = performance.now() - t0;
  t.is(result.responses.length, 1);
  t.is(result.responses[0].status, 413);
  t.regex(result.responses[0].body, /exceeds the limit of 3200 bytes/);
  t.true(result.sent < bound, `the server cut the connection after ${ms.toFixed(0)} ms`);
  t.log(`cut after ${ms.toFixed(0)} ms and ${(result.sent / 2 ** 20).toFixed(0)} MiB (${result.error})`);
  await stop();
});
