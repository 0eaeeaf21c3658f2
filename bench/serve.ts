// npm run bench:serve: inference for services, in one run.
//  1. images/s of the ONNX model through Classifier (onnxruntime-node) vs the native eval path, same model
//     (ResNet-32, 1x28x28, batch 128, 2 threads each);
//  2. an HTTP load test of `serve` on loopback with autocannon (single-image POSTs, bounded in time):
//     requests/s, p50/p99 latency, the error count and resident memory before/after.
// Writes bench/out/serve.json.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { exportOnnx } from '../lib/model/onnx-export.js';
import { ResNet } from '../lib/model/resnet.js';
import { Classifier } from '../lib/serve/classifier.js';
import { serve } from '../lib/serve/http-server.js';

const THREADS = 2;
const BATCH = 128;
const ROUNDS = 12;

async function imagesPerSecond(run: () => Promise<unknown>, images: number): Promise<number> {
  await run(); // warm-up (plans, sessions)
  const t0 = performance.now();
  for (let i = 0; i < ROUNDS; i++) await run();
  return (ROUNDS * images) / ((performance.now() - t0) / 1000);
}

const model = ResNet.create({
  depth: 32,
  inChannels: 1,
  inputSize: 28,
  classes: 10,
  head: 'linear',
  seed: 0,
  threads: THREADS,
  normalization: { mean: [0.286], std: [0.353] },
});
const path = join(mkdtempSync(join(tmpdir(), 'eos-bench-serve-')), 'resnet32.onnx');
exportOnnx(model.snapshot(), path);
const images = Uint8Array.from({ length: BATCH * 784 }, (_, i) => (i * 31) % 256);
const shape: [number, number, number, number] = [BATCH, 1, 28, 28];

const backend = model.backend;
const native = await imagesPerSecond(() => model.predict({ images, shape }, { batch: BATCH }), BATCH);
const classifier = await Classifier.load(path, {
  intraOpThreads: THREADS,
  interOpThreads: 1,
  maxBatch: BATCH,
});
const ort = await imagesPerSecond(() => classifier.predict(images), BATCH);
model.dispose();

const running = await serve(classifier, { port: 0 });
// Resident memory around the load test: growth that does not level off would mean a leak per request.
const rssBefore = process.memoryUsage().rss;
const load = await autocannon({
  url: `${running.url}/predict`,
  method: 'POST',
  headers: { 'content-type': 'application/octet-stream' },
  body: Buffer.from(images.subarray(0, 784)),
  connections: 32,
  duration: 10,
});
const rssAfter = process.memoryUsage().rss;
await running.close();
await classifier.close();

const http = {
  requestsPerSecond: load.requests.average,
  latencyMs: { p50: load.latency.p50, p99: load.latency.p99 },
  errors: load.errors + load.timeouts,
  non2xx: load.non2xx,
  requests: load.requests.total,
  rssMB: { before: rssBefore / 2 ** 20, after: rssAfter / 2 ** 20 },
};
const result = {
  model: 'ResNet-32 1x28x28, batch 128, 2 threads',
  inference: { onnxruntimeNode: ort, nativeEval: native, ratioNativeOverOrt: native / ort },
  http,
  date: new Date().toISOString(),
};
console.log('| path | images/s |');
console.log('|---|---|');
console.log(`| Classifier (onnxruntime-node ${THREADS} threads) | ${ort.toFixed(0)} |`);
console.log(`| native eval (${backend}) | ${native.toFixed(0)} |`);
console.log(`| ratio native / onnxruntime | ${(native / ort).toFixed(2)} |`);
console.log('');
console.log('| HTTP (32 connections, 10 s, 1 image per request) | value |');
console.log('|---|---|');
console.log(`| requests/s | ${http.requestsPerSecond.toFixed(0)} |`);
console.log(`| p50 / p99 latency (ms) | ${http.latencyMs.p50} / ${http.latencyMs.p99} |`);
console.log(`| errors / non-2xx | ${http.errors} / ${http.non2xx} |`);
console.log(`| RSS before / after (MB) | ${http.rssMB.before.toFixed(0)} / ${http.rssMB.after.toFixed(0)} |`);
mkdirSync('bench/out', { recursive: true });
writeFileSync('bench/out/serve.json', `${JSON.stringify(result, null, 2)}\n`);
if (http.errors > 0 || http.non2xx > 0) process.exitCode = 1;
