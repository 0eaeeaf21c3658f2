import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { exportCommand } from '../lib/cli/export-command.js';
import { readSafetensors, writeSafetensors } from '../lib/model/safetensors.js';
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

test('eos export refuses a std <= 0, a mean or std list of the wrong length, and leaves no file behind', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'eos-cli-'));
  const out = join(dir, 'm.onnx');
  const refused = async (args: string[], message: string) => {
    const err = await t.throwsAsync(run(process.execPath, [eos, 'export', checkpoint, '-o', out, ...args]));
    t.is(String((err as { stderr?: string }).stderr).split('\n')[0], `eos: ${message}`);
    t.deepEqual(readdirSync(dir), [], 'no ONNX file and no temporary file');
  };
  await refused(
    ['--mean', '0.5', '--std', '0'],
    '--std must be a finite number > 0 (pixel/255 is divided by it) for every channel, got 0 (channel 0 of [0])',
  );
  await refused(
    ['--mean', '0.5', '--std', '-1'],
    '--std must be a finite number > 0 (pixel/255 is divided by it) for every channel, got -1 (channel 0 of [-1])',
  );
  await refused(
    ['--mean', '0.5,0.5,0.5', '--std', '0.3'],
    '--mean has 3 value(s) [0.5, 0.5, 0.5], the model has 1 input channel(s): give one value per channel',
  );
  mkdirSync(join(dir, 'sub.onnx'));
  const err = await t.throwsAsync(
    run(process.execPath, [
      eos,
      'export',
      checkpoint,
      '-o',
      join(dir, 'sub.onnx'),
      '--mean',
      '0.5',
      '--std',
      '0.3',
    ]),
  );
  t.regex(
    String((err as { stderr?: string }).stderr),
    /--out .*sub\.onnx: is a directory, expected a file name/,
  );
});

test('a bad normalisation recorded in the checkpoint is refused, naming the checkpoint', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'eos-cli-'));
  const { tensors } = readSafetensors(checkpoint);
  const withNormalization = (text: string) => {
    const path = join(dir, 'recorded.safetensors');
    writeSafetensors(path, Object.fromEntries(tensors), { 'eos.normalization': text });
    return path;
  };
  const out = join(dir, 'm.onnx');
  let saved = withNormalization('{"mean":[0.5],"std":[0]}');
  t.throws(() => exportCommand(saved, { out }), {
    message: `${saved} metadata eos.normalization.std must be a finite number > 0 (pixel/255 is divided by it) for every channel, got 0 (channel 0 of [0])`,
  });
  // A flag overrides the recorded value, and is what the error names then.
  t.throws(() => exportCommand(saved, { out, std: [-2] }), { message: /^--std must be .* got -2 / });
  t.regex(exportCommand(saved, { out, std: [0.3] }), /exported .* to .*m\.onnx/);
  saved = withNormalization('{"mean":[0.5],');
  t.throws(() => exportCommand(saved, { out: join(dir, 'other.onnx') }), {
    message: `${saved}: metadata eos.normalization must be JSON {"mean": [...], "std": [...]}, got {"mean":[0.5],`,
  });
  t.regex(
    exportCommand(saved, { out, mean: [0.5], std: [0.3] }),
    /exported/,
    'flags need no recorded values',
  );
  t.deepEqual(readdirSync(dir).sort(), ['m.onnx', 'recorded.safetensors']);
});

test('eos serve refuses an empty model file, a directory and a taken port with one line and exit code 1', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'eos-cli-'));
  const empty = join(dir, 'empty.onnx');
  writeFileSync(empty, '');
  const serveFails = async (model: string) => {
    const err = (await t.throwsAsync(
      run(process.execPath, [eos, 'serve', '-m', model, '-p', '0'], { timeout: 60_000 }),
    )) as {
      code?: number;
      stderr?: string;
    };
    t.is(err.code, 1);
    return String(err.stderr).trim();
  };
  t.is(
    await serveFails(empty),
    `eos: ${empty}: not a valid ONNX model (onnxruntime: ModelProto does not have a graph.)`,
  );
  t.is(await serveFails(dir), `eos: ${dir} is a directory, expected an ONNX file`);

  // A port that is taken: the message says which flags to change, and the process still exits.
  const model = join(dir, 'm.onnx');
  await run(process.execPath, [eos, 'export', checkpoint, '-o', model, '--mean', '0.3', '--std', '0.35']);
  const taken = createServer();
  await new Promise<void>((listening) => taken.listen(0, '127.0.0.1', listening));
  const port = (taken.address() as AddressInfo).port;
  const err = (await t.throwsAsync(
    run(process.execPath, [eos, 'serve', '-m', model, '-p', String(port)], { timeout: 60_000 }),
  )) as { code?: number; stderr?: string };
  taken.close();
  t.is(err.code, 1);
  t.regex(
    String(err.stderr),
    new RegExp(`^eos: cannot listen on 127\\.0\\.0\\.1:${port} \\(--host, --port\\): listen EADDRINUSE`),
  );
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
