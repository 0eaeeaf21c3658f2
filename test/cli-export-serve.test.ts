import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { packageRoot } from '../lib/native.js';

const run = promisify(execFile);
const eos = resolve(packageRoot, 'dist/lib/cli/eos.js');
const checkpoint = resolve(packageRoot, 'test/fixtures/torch-interop/resnet8-1ch-linear.model.safetensors');

test('eos export writes an ONNX model; without recorded normalisation it asks for --mean/--std', async (t) => {
  const out = join(mkdtempSync(join(tmpdir(), 'eos-cli-')), 'm.onnx');
  const err = await t.throwsAsync(run(process.execPath, [eos, 'export', checkpoint, '-o', out]));
  t.regex(
    String((err as { stderr?: string }).stderr),
    /does not record its input normalisation: pass --mean and --std/,
  );
  t.false(existsSync(out));
  const ok = await run(process.execPath, [
    eos,
    'export',
    checkpoint,
    '-o',
    out,
    '--mean',
    '0.3',
    '--std',
    '0.35',
  ]);
  t.regex(ok.stdout, /exported .* \(ResNet-8, 10 classes, input 1x28x28\)/);
  t.true(existsSync(out));
  const bad = await t.throwsAsync(
    run(process.execPath, [
      eos,
      'export',
      '/nonexistent.safetensors',
      '-o',
      out,
      '--mean',
      '0',
      '--std',
      '1',
    ]),
  );
  t.regex(String((bad as { stderr?: string }).stderr), /ENOENT.*nonexistent\.safetensors/);
});

test('eos serve answers /health and stops cleanly on SIGINT', async (t) => {
  const model = join(mkdtempSync(join(tmpdir(), 'eos-cli-')), 'm.onnx');
  await run(process.execPath, [eos, 'export', checkpoint, '-o', model, '--mean', '0.3', '--std', '0.35']);
  const child = spawn(process.execPath, [eos, 'serve', '-m', model, '-p', '0']);
  let output = '';
  const url = await new Promise<string>((resolveUrl, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
      const m = /on (http:\/\/[\d.:]+)/.exec(output);
      if (m) resolveUrl(m[1]);
    });
    child.once('exit', () => reject(new Error(`serve exited early: ${output}`)));
  });
  const health = await fetch(`${url}/health`);
  t.is(health.status, 200);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  child.kill('SIGINT');
  t.is(await exited, 0);
  t.regex(output, /eos serve: stopped/);
});
