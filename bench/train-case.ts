// One measurement of bench/train.ts, run in its own process so that its peak memory is its own:
//   node dist/bench/train-case.js ours --channels 3 --side 32 --threads 2   (the product's training path:
//     NativeNetwork.trainEpoch = augmentation + trunk + head + loss + SGD per batch; then eval)
//   node dist/bench/train-case.js ort  --channels 3 --side 32 --threads 2   (onnxruntime-node inference of
//     the same ResNet-32 exported by exportOnnx)
// Prints one JSON line: { trainImagesPerSecond?, evalImagesPerSecond, peakRssMiB, backend }.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { exportOnnx } from '../lib/model/onnx-export.js';
import { ResNet } from '../lib/model/resnet.js';
import { native } from '../lib/native.js';

const args = process.argv.slice(2);
const mode = args[0];
const flag = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const channels = flag('channels', 3);
const side = flag('side', 32);
const threads = flag('threads', 2);
const batch = flag('batch', 128);
const steps = flag('steps', 12);
const warmup = 2;

const model = ResNet.create({
  depth: 32,
  inChannels: channels,
  inputSize: side,
  classes: 10,
  head: 'linear',
  seed: 0,
  threads,
  normalization: { mean: new Array(channels).fill(0.45), std: new Array(channels).fill(0.25) },
});
const n = batch * steps;
const images = Uint8Array.from({ length: n * channels * side * side }, (_, i) => (i * 2654435761) >>> 24);
const labels = Int32Array.from({ length: n }, (_, i) => i % 10);
const shape: [number, number, number, number] = [n, channels, side, side];
const peak = () => process.resourceUsage().maxRSS / 1024;

if (mode === 'ours') {
  const order = Int32Array.from({ length: n }, (_, i) => i);
  const epoch = (rows: Int32Array, e: number) =>
    model.trainEpoch(
      { images, shape },
      { order: rows, labels, epoch: e, lr: 0.05, batch, loss: { kind: 'ce' } },
    );
  await epoch(order.subarray(0, warmup * batch), 0);
  let t0 = performance.now();
  await epoch(order, 1);
  const train = n / ((performance.now() - t0) / 1000);
  await model.predict({ images, shape }, { indices: order.subarray(0, batch), batch });
  t0 = performance.now();
  await model.predict({ images, shape }, { batch });
  const evalIps = n / ((performance.now() - t0) / 1000);
  console.log(
    JSON.stringify({
      trainImagesPerSecond: train,
      evalImagesPerSecond: evalIps,
      peakRssMiB: peak(),
      backend: model.backend,
      dnnlIsa: native().info().dnnlIsa,
      cpuIsa: native().info().cpuIsa,
    }),
  );
} else if (mode === 'ort') {
  const path = join(mkdtempSync(join(tmpdir(), 'eos-bench-')), 'resnet32.onnx');
  exportOnnx(model.snapshot(), path);
  model.dispose();
  const session = await ort.InferenceSession.create(path, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
  });
  const pixels = Float32Array.from(images.subarray(0, batch * channels * side * side));
  const feed = { pixels: new ort.Tensor('float32', pixels, [batch, channels, side, side]) };
  for (let i = 0; i < warmup; i++) await session.run(feed);
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) await session.run(feed);
  const evalIps = (steps * batch) / ((performance.now() - t0) / 1000);
  console.log(
    JSON.stringify({
      evalImagesPerSecond: evalIps,
      peakRssMiB: peak(),
      backend: `onnxruntime-node ${ort.env.versions.node}`,
    }),
  );
} else {
  throw new Error(
    'usage: train-case.js ours|ort [--channels C] [--side S] [--threads T] [--batch B] [--steps N]',
  );
}
