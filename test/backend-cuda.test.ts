// The cuda backend as TypeScript sees it, on every build: where it cannot run (a build without CUDA, or no
// GPU) asking for it fails with a message that says why and what to use instead, through the API and the CLI;
// 'auto' picks it exactly where a GPU is found; `eos info` reports the CUDA build and the GPUs. (The CUDA
// engine's numbers are tested natively: test/native/test_cuda_engine.cc.)
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { native, packageRoot } from '../lib/native.js';
import { fineTuneHead } from '../lib/train/fine-tune-head.js';
import { removeTemporaryFolders, tinyDataset } from './harness-fixtures.js';

const run = promisify(execFile);
const eos = resolve(packageRoot, 'dist/lib/cli/eos.js');
const info = native().info();
const gpu = info.cuda && (info.cudaInfo?.devices.length ?? 0) > 0;
// Why 'cuda' is refused here, in the words of native/nn/engine_factory.cc.
const refusal = info.cuda
  ? /backend 'cuda': no CUDA device found.*; use 'auto'/
  : /backend 'cuda': this addon was built without CUDA \(rebuild it with npx cmake-js compile --CDEOS_CUDA=ON; nvcc needed\); use 'auto'/;
// The CLI says it before loading any data, naming the flag (lib/pipeline/check-run-start.ts).
const cliRefusal = info.cuda
  ? /--backend cuda: no (usable )?CUDA device.*; use auto, /
  : /--backend cuda: this addon was built without CUDA \(rebuild it with npx cmake-js compile --CDEOS_CUDA=ON; nvcc needed\); use auto, /;
const SPEC = {
  depth: 8,
  inChannels: 1,
  inputSize: 8,
  classes: 2,
  head: 'linear' as const,
  seed: 0,
  threads: 1,
};

test.after.always(removeTemporaryFolders);

test("'auto' runs cuda exactly where a GPU is found, else the fastest CPU backend", (t) => {
  const { NativeNetwork } = native();
  const net = new NativeNetwork({ ...SPEC, backend: 'auto' });
  t.is(net.backend, info.backend);
  t.is(info.backend, gpu ? 'cuda' : info.backends.includes('dnnl') ? 'dnnl' : 'ref');
  if (info.cuda) t.is(info.backends[0], 'cuda');
  t.is(info.backends.includes('cuda'), info.cuda);
  net.dispose();
});

(gpu ? test.skip : test)("backend 'cuda' is refused with the reason where it cannot run (API)", async (t) => {
  const { NativeNetwork } = native();
  t.throws(() => new NativeNetwork({ ...SPEC, backend: 'cuda' }), { message: refusal });
  const x = Float32Array.from({ length: 8 * 64 }, (_, i) => Math.sin(i));
  const labels = Int32Array.from({ length: 8 }, (_, i) => i % 2);
  await t.throwsAsync(
    fineTuneHead(x, labels, 2, { batch: 4, epochs: 1, momentum: 0.9, weightDecay: 0, backend: 'cuda' }),
    { message: refusal },
  );
});

(gpu ? test.skip : test)(
  'eos run --backend cuda is refused with the reason where it cannot run (CLI)',
  async (t) => {
    const data = await tinyDataset();
    const out = join(mkdtempSync(join(tmpdir(), 'eos-cuda-run-')), 'run');
    const flags = [
      '--dataset',
      'npy',
      '--data-dir',
      data,
      '--ratio',
      '4',
      '--depth',
      '8',
      '--epochs',
      '1',
      '--batch',
      '16',
    ];
    const err = await t.throwsAsync(
      run(process.execPath, [eos, 'run', ...flags, '--backend', 'cuda', '--out', out]),
    );
    t.regex(String((err as { stderr?: string }).stderr), cliRefusal);
    rmSync(dirname(out), { recursive: true, force: true });
    const bad = await t.throwsAsync(run(process.execPath, [eos, 'run', '--backend', 'tpu']));
    t.regex(String((bad as { stderr?: string }).stderr), /Allowed choices are auto, cuda, dnnl, ref/);
  },
);

test('eos info reports the CUDA build, the GPUs, the math mode and determinism', (t) => {
  const text = execFileSync(process.execPath, [eos, 'info'], { encoding: 'utf8' });
  if (!info.cuda) {
    t.regex(text, /cuda\s+not built \(rebuild with npx cmake-js compile --CDEOS_CUDA=ON; nvcc needed\)/);
    t.notRegex(text, /^gpu /m);
    t.is(info.cudaInfo, null);
    return;
  }
  t.regex(text, /cuda\s+built for \S+ \(runtime \d+\.\d+, driver (\d+\.\d+|none)\)/);
  if (gpu) {
    t.regex(text, /gpu 0\s+.+, \d+\.\d GiB \(\d+\.\d free\), compute capability \d+\.\d+, \d+ SMs/);
  } else {
    t.regex(text, /gpu\s+none: \S/);
  }
  t.regex(text, /cuda math\s+(fp32|tf32|bf16) \(convolutions; EOS_CUDA_MATH=fp32\|tf32\|bf16\)/);
  t.regex(text, /cuda determinism .*same bytes/);
  const bad = execFileSync(process.execPath, [eos, 'info'], {
    encoding: 'utf8',
    env: { ...process.env, EOS_CUDA_MATH: 'fp16' },
  });
  t.regex(bad, /cuda math\s+invalid: EOS_CUDA_MATH must be 'fp32', 'tf32' or 'bf16', got 'fp16'/);
});
