// npm run bench:train [-- --isa LEVEL|all]: ResNet-32 at batch 128 with 2 threads, back to back in one run,
// each case in its own process (so peak memory is per case), at one ISA level or at every level the machine
// has (default: the machine's own):
//   training on 3x32x32 and 1x28x28: ours (NativeNetwork.trainEpoch on the oneDNN backend: augmentation,
//     trunk, head, loss, SGD) vs PyTorch (Debian python3-torch, same model and optimizer, bench/native/
//     torch_train_step.py; OPENBLAS_CORETYPE unset for the peer only);
//   inference: ours (eval path), PyTorch eval, onnxruntime-node (our exportOnnx of the same network).
// ISA cap: ours and PyTorch run under the same oneDNN cap (ONEDNN_MAX_CPU_ISA; PyTorch also
// ATEN_CPU_CAPABILITY), ours also under EOS_MAX_ISA; onnxruntime has no such cap and runs at the CPU's own
// level. The machine's limit at a level is numpy's sgemm rate with OpenBLAS's kernel of that level
// (bench/peers/sgemm_rate.py), measured in the same run; the FLOP fraction is our training rate times the
// network's training FLOPs per image (forward + backward data + backward weights), divided by it.
// Prints the table and writes bench/out/train.json. Targets (issue 12): training >= 1.5x PyTorch and >= 75%
// of the FLOP limit, inference >= 1.3x onnxruntime-node, at every level.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { CPU_ISA_LEVELS, type CpuIsaLevel, native, ONEDNN_ISA_CAP } from '../lib/native.js';

const THREADS = 2;
const DEPTH = 32;
const shapes = [
  { channels: 3, side: 32 },
  { channels: 1, side: 28 },
];

// Per level, besides oneDNN's cap (ONEDNN_ISA_CAP): PyTorch's ATen kernel level, OpenBLAS's kernel for the
// sgemm limit.
const CAPS: Record<CpuIsaLevel, { aten: string; openblas: string }> = {
  portable: { aten: 'default', openblas: 'Nehalem' },
  avx2: { aten: 'avx2', openblas: 'Haswell' },
  avx512: { aten: 'avx512', openblas: 'SkylakeX' },
  avx512_bf16: { aten: 'avx512', openblas: 'Cooperlake' },
};

function levelsToRun(): CpuIsaLevel[] {
  const i = process.argv.indexOf('--isa');
  const detected = native().info().cpuIsaDetected;
  const machine = CPU_ISA_LEVELS.slice(0, CPU_ISA_LEVELS.indexOf(detected) + 1);
  if (i < 0) return [detected];
  const want = process.argv[i + 1];
  if (want === 'all') return [...machine].reverse();
  if (!machine.includes(want as CpuIsaLevel)) {
    console.error(
      `--isa must be 'all' or one of ${machine.join(', ')} (this CPU: ${detected}), got '${want}'`,
    );
    process.exit(1);
  }
  return [want as CpuIsaLevel];
}

/** Training FLOPs per image: 3 passes of every 3x3 convolution (the stem has no backward-data pass). */
function trainFlopsPerImage(channels: number, side: number): number {
  const blocks = (DEPTH - 2) / 6;
  const conv = (c: number, k: number, out: number) => 2 * c * k * 9 * out * out;
  let forward = 0;
  const stem = conv(channels, 16, side);
  let s = side;
  let planesIn = 16;
  for (let stage = 0; stage < 3; stage++) {
    const planes = 16 << stage;
    for (let b = 0; b < blocks; b++) {
      const out = stage > 0 && b === 0 ? Math.floor((s - 1) / 2) + 1 : s;
      forward += conv(planesIn, planes, out) + conv(planes, planes, out);
      s = out;
      planesIn = planes;
    }
  }
  return 3 * forward + 2 * stem; // the stem: forward + backward weights
}

function json(cmd: string, args: string[], env: NodeJS.ProcessEnv): Record<string, number | string> {
  const out = execFileSync(cmd, args, { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'inherit'] });
  const line = out.trim().split('\n').pop() ?? '';
  return JSON.parse(line);
}

const baseEnv = { ...process.env };
const peerBase = { ...process.env };
delete peerBase.OPENBLAS_CORETYPE;
const cpu = cpus()[0]?.model;
const results: Record<string, unknown> = {
  threads: THREADS,
  batch: 128,
  depth: DEPTH,
  cpu,
  cpuIsa: native().info().cpuIsaDetected,
  date: new Date().toISOString(),
};
const rows: string[] = [];
for (const level of levelsToRun()) {
  const cap = CAPS[level];
  const onednn = ONEDNN_ISA_CAP[level];
  const oursEnv = { ...baseEnv, EOS_MAX_ISA: level, ONEDNN_MAX_CPU_ISA: onednn };
  const torchEnv = { ...peerBase, ONEDNN_MAX_CPU_ISA: onednn, ATEN_CPU_CAPABILITY: cap.aten };
  const sgemm = json('/usr/bin/python3', ['bench/peers/sgemm_rate.py', String(THREADS)], {
    ...peerBase,
    OPENBLAS_CORETYPE: cap.openblas,
  });
  const limit = Number(sgemm.gflops);
  const perLevel: Record<string, unknown> = { sgemmGflops: limit, openblasCore: cap.openblas };
  for (const { channels, side } of shapes) {
    const flags = ['--channels', String(channels), '--side', String(side), '--threads', String(THREADS)];
    const batchFlags = [...flags, '--batch', '128'];
    const ours = json(process.execPath, ['dist/bench/train-case.js', 'ours', ...batchFlags], oursEnv);
    const torch = json('/usr/bin/python3', ['bench/native/torch_train_step.py', ...batchFlags], torchEnv);
    const onnx = json(process.execPath, ['dist/bench/train-case.js', 'ort', ...batchFlags], baseEnv);
    const key = `${channels}x${side}x${side}`;
    const mflop = trainFlopsPerImage(channels, side) / 1e6;
    const train = { ours: Number(ours.trainImagesPerSecond), pytorch: Number(torch.train_ips) };
    const fraction = (train.ours * mflop) / 1e3 / limit;
    const memory = { ours: Number(ours.peakRssMiB), pytorch: Number(torch.peak_rss_mib) };
    const inference = {
      ours: Number(ours.evalImagesPerSecond),
      pytorch: Number(torch.eval_ips),
      onnxruntime: Number(onnx.evalImagesPerSecond),
    };
    perLevel[key] = {
      train: { ...train, ratio: train.ours / train.pytorch, mflopPerImage: mflop, fractionOfSgemm: fraction },
      peakMemoryMiB: { ...memory, ratio: memory.ours / memory.pytorch },
      inference: {
        ...inference,
        ratioVsPytorch: inference.ours / inference.pytorch,
        ratioVsOnnxruntime: inference.ours / inference.onnxruntime,
      },
      backend: ours.backend,
      dnnlIsa: ours.dnnlIsa,
      cpuIsa: ours.cpuIsa,
      torch: torch.torch,
    };
    const x = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
    rows.push(
      `| ${level} (oneDNN ${ours.dnnlIsa}) | ${key} train (img/s) | ${train.ours.toFixed(0)} | ${train.pytorch.toFixed(0)} (PyTorch) | ${x(train.ours, train.pytorch)} | ${(100 * fraction).toFixed(0)}% of ${limit.toFixed(0)} GFLOP/s (${mflop.toFixed(0)} MFLOP/img) |`,
      `| ${level} | ${key} peak memory (MiB) | ${memory.ours.toFixed(0)} | ${memory.pytorch.toFixed(0)} (PyTorch) | ${x(memory.ours, memory.pytorch)} | |`,
      `| ${level} | ${key} inference (img/s) | ${inference.ours.toFixed(0)} | ${inference.pytorch.toFixed(0)} (PyTorch eval) | ${x(inference.ours, inference.pytorch)} | |`,
      `| ${level} | ${key} inference (img/s) | ${inference.ours.toFixed(0)} | ${inference.onnxruntime.toFixed(0)} (onnxruntime-node, uncapped) | ${x(inference.ours, inference.onnxruntime)} | |`,
    );
  }
  results[level] = perLevel;
}
console.log(`ResNet-${DEPTH}, batch 128, ${THREADS} threads, ${cpu} (CPU ISA ${results.cpuIsa})`);
console.log('| ISA cap | case | ours | peer | ours / peer | machine limit |');
console.log('|---|---|---|---|---|---|');
for (const r of rows) console.log(r);
mkdirSync('bench/out', { recursive: true });
writeFileSync('bench/out/train.json', `${JSON.stringify(results, null, 2)}\n`);
