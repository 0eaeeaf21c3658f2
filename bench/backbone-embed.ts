// npm run bench:backbone: embedding throughput of a backbone run as a user's ONNX model (OnnxBackbone,
// onnxruntime-node) against our native eval of the same network, back to back in one run: ResNet-32,
// 1x28x28, 2,048 images in batches of 256 (INFERENCE_BATCH), 2 threads each. Prints the two figures, their
// ratio and the machine; writes bench/out/backbone-embed.json.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OnnxBackbone } from '../lib/backbone/onnx-backbone.js';
import { describeMachine } from '../lib/harness/machine.js';
import { exportOnnx } from '../lib/model/onnx-export.js';
import { ResNet } from '../lib/model/resnet.js';

const THREADS = 2;
const IMAGES = 2048;
const ROUNDS = 3;

async function imagesPerSecond(run: () => Promise<unknown>): Promise<number> {
  await run(); // warm-up: plans, sessions, first-touch memory
  const t0 = performance.now();
  for (let i = 0; i < ROUNDS; i++) await run();
  return (ROUNDS * IMAGES) / ((performance.now() - t0) / 1000);
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
const path = join(mkdtempSync(join(tmpdir(), 'eos-bench-backbone-')), 'resnet32.onnx');
exportOnnx(model.snapshot(), path, { outputs: ['logits', 'embedding'] });
const images = Uint8Array.from({ length: IMAGES * 784 }, (_, i) => (i * 31 + (i >> 9)) % 256);
const shape: [number, number, number, number] = [IMAGES, 1, 28, 28];

const native = await imagesPerSecond(() => model.embed({ images, shape }));
const backbone = await OnnxBackbone.load(path, { threads: THREADS });
const onnx = await imagesPerSecond(() => backbone.embed(images, shape));
await backbone.release();
const backend = model.backend;
model.dispose();

const machine = describeMachine();
console.log(`machine: ${machine.cpu}, ${machine.cpus} CPUs; addon ${machine.addon}`);
console.log('| ResNet-32 1x28x28 embeddings, 2 threads | images/s |');
console.log('|---|---|');
console.log(`| OnnxBackbone (onnxruntime-node) | ${onnx.toFixed(0)} |`);
console.log(`| native eval (${backend}) | ${native.toFixed(0)} |`);
console.log(`| ratio native / onnxruntime | ${(native / onnx).toFixed(2)} |`);
mkdirSync('bench/out', { recursive: true });
writeFileSync(
  'bench/out/backbone-embed.json',
  `${JSON.stringify({ machine, imagesPerSecond: { onnx, native }, date: new Date().toISOString() }, null, 2)}\n`,
);
