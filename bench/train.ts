// npm run bench:train: ResNet-32 at batch 128 with 2 threads, back to back in one run, each case in its own
// process (so peak memory is per case):
//   training on 3x32x32 and 1x28x28: ours (NativeNetwork.trainEpoch on the oneDNN backend: augmentation,
//     trunk, head, loss, SGD) vs PyTorch (Debian python3-torch, same model and optimizer, bench/native/
//     torch_train_step.py; OPENBLAS_CORETYPE unset for the peer only);
//   inference: ours (eval path), PyTorch eval, onnxruntime-node (our exportOnnx of the same network).
// Prints the table and writes bench/out/train.json. Targets (issue 3): training >= 1.5x PyTorch, peak memory
// <= PyTorch's, inference >= onnxruntime-node.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';

const THREADS = 2;
const shapes = [
  { channels: 3, side: 32 },
  { channels: 1, side: 28 },
];

function json(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Record<string, number | string> {
  const out = execFileSync(cmd, args, { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'inherit'] });
  const line = out.trim().split('\n').pop() ?? '';
  return JSON.parse(line);
}

const peerEnv = { ...process.env };
delete peerEnv.OPENBLAS_CORETYPE;

const results: Record<string, unknown> = {
  threads: THREADS,
  batch: 128,
  cpu: cpus()[0]?.model,
  date: new Date().toISOString(),
};
const rows: string[] = [];
for (const { channels, side } of shapes) {
  const flags = [
    '--channels',
    String(channels),
    '--side',
    String(side),
    '--threads',
    String(THREADS),
    '--batch',
    '128',
  ];
  const ours = json(process.execPath, ['dist/bench/train-case.js', 'ours', ...flags]);
  const torch = json('/usr/bin/python3', ['bench/native/torch_train_step.py', ...flags], peerEnv);
  const onnx = json(process.execPath, ['dist/bench/train-case.js', 'ort', ...flags]);
  const key = `${channels}x${side}x${side}`;
  const train = { ours: Number(ours.trainImagesPerSecond), pytorch: Number(torch.train_ips) };
  const memory = { ours: Number(ours.peakRssMiB), pytorch: Number(torch.peak_rss_mib) };
  const inference = {
    ours: Number(ours.evalImagesPerSecond),
    pytorch: Number(torch.eval_ips),
    onnxruntime: Number(onnx.evalImagesPerSecond),
  };
  results[key] = {
    train: { ...train, ratio: train.ours / train.pytorch },
    peakMemoryMiB: { ...memory, ratio: memory.ours / memory.pytorch },
    inference: {
      ...inference,
      ratioVsPytorch: inference.ours / inference.pytorch,
      ratioVsOnnxruntime: inference.ours / inference.onnxruntime,
    },
    backend: ours.backend,
  };
  rows.push(
    `| ${key} train (img/s) | ${train.ours.toFixed(0)} | ${train.pytorch.toFixed(0)} (PyTorch) | ${(train.ours / train.pytorch).toFixed(2)}x |`,
    `| ${key} peak memory (MiB) | ${memory.ours.toFixed(0)} | ${memory.pytorch.toFixed(0)} (PyTorch) | ${(memory.ours / memory.pytorch).toFixed(2)}x |`,
    `| ${key} inference (img/s) | ${inference.ours.toFixed(0)} | ${inference.pytorch.toFixed(0)} (PyTorch eval) | ${(inference.ours / inference.pytorch).toFixed(2)}x |`,
    `| ${key} inference (img/s) | ${inference.ours.toFixed(0)} | ${inference.onnxruntime.toFixed(0)} (onnxruntime-node) | ${(inference.ours / inference.onnxruntime).toFixed(2)}x |`,
  );
}
console.log(`ResNet-32, batch 128, ${THREADS} threads, ${results.cpu}`);
console.log('| case | ours | peer | ours / peer |');
console.log('|---|---|---|---|');
for (const r of rows) console.log(r);
mkdirSync('bench/out', { recursive: true });
writeFileSync('bench/out/train.json', `${JSON.stringify(results, null, 2)}\n`);
