// `eos run`, `eos train`, `eos evaluate`, `eos embed` and `eos resample` end to end on a tiny NPY data set.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { packageRoot } from '../lib/native.js';
import { removeTemporaryFolders, tinyDataset } from './harness-fixtures.js';

const run = promisify(execFile);
const eos = resolve(packageRoot, 'dist/lib/cli/eos.js');
const stderrOf = (err: unknown) => String((err as { stderr?: string }).stderr);

test.after.always(removeTemporaryFolders);

test('eos run goes through all phases on a tiny data set and writes every output', async (t) => {
  const data = await tinyDataset();
  const out = join(mkdtempSync(join(tmpdir(), 'eos-run-')), 'run');
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
    '2',
    '--batch',
    '16',
  ];
  const { stdout } = await run(process.execPath, [eos, 'run', ...flags, '--head-epochs', '3', '--out', out]);
  t.regex(stdout, /\| phase 1 only \|/);
  t.regex(stdout, /\| eos \(main\) \|/);
  t.regex(stdout, /\| smote \|/);
  for (const f of [
    'config.json',
    'results.json',
    'results.md',
    'model.safetensors',
    'phase1-model.safetensors',
    'model.onnx',
  ]) {
    t.true(existsSync(join(out, f)), f);
  }
  const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  t.deepEqual(
    results.methods.map((m: { name: string }) => m.name),
    ['eos', 'none', 'ros', 'smote'],
  );
  t.is(results.phase1.history.length, 2);
  t.is(results.gap.before.perClass.length, 4);
  t.true(results.methods.every((m: { test: { balancedAccuracy: number } }) => m.test.balancedAccuracy >= 0));
  const report = readFileSync(join(out, 'results.md'), 'utf8');
  t.regex(report, /## Per-class test accuracy/);
  t.regex(report, /## Generalization gap/);

  // The saved model evaluates to the main method's numbers.
  const evaluated = await run(process.execPath, [
    eos,
    'evaluate',
    '-m',
    join(out, 'model.safetensors'),
    '--dataset',
    'npy',
    '--data-dir',
    data,
    '--json',
  ]);
  const eosMethod = results.methods.find((m: { name: string }) => m.name === 'eos');
  t.true(Math.abs(JSON.parse(evaluated.stdout).balancedAccuracy - eosMethod.test.balancedAccuracy) < 1e-9);

  // A second run with --resume finds phase 1 done and does not train again.
  const again = await run(process.execPath, [
    eos,
    'run',
    ...flags,
    '--head-epochs',
    '3',
    '--out',
    out,
    '--resume',
  ]);
  t.notRegex(again.stderr, /phase 1 epoch/);
  t.regex(again.stderr, /phase 1: resuming from .*phase1\.safetensors: 2 of 2 epochs done/);
  t.deepEqual(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')).phase1.resumedFrom, {
    epoch: 2,
    batch: 0,
  });

  // Phase by phase: embed the training part, resample it.
  const emb = join(out, 'emb.npy');
  await run(process.execPath, [
    eos,
    'embed',
    '-m',
    join(out, 'phase1-model.safetensors'),
    '--dataset',
    'npy',
    '--data-dir',
    data,
    '--part',
    'train',
    '-o',
    emb,
  ]);
  const resampled = await run(process.execPath, [
    eos,
    'resample',
    '-e',
    emb,
    '-l',
    join(out, 'emb.labels.npy'),
    '--sampler',
    'ros',
    '-o',
    join(out, 'bal.npy'),
  ]);
  t.regex(resampled.stdout, /ros: 160 rows \+ 0 synthetic/);
});

test('eos train runs phase 1 only', async (t) => {
  const data = await tinyDataset();
  const out = join(mkdtempSync(join(tmpdir(), 'eos-train-')), 'p1');
  const { stdout } = await run(process.execPath, [
    eos,
    'train',
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
    '--out',
    out,
  ]);
  t.regex(stdout, /phase 1 done/);
  t.true(existsSync(join(out, 'phase1-model.safetensors')));
  t.false(existsSync(join(out, 'results.json')));
});

test('bad flags and missing data sets give clear messages', async (t) => {
  const bad = async (args: string[], pattern: RegExp) => {
    const err = await t.throwsAsync(run(process.execPath, [eos, ...args]));
    t.regex(stderrOf(err), pattern);
  };
  await bad(['run', '--sampler', 'magic'], /argument 'magic' is invalid.*Allowed choices are none, ros/);
  await bad(['run', '--depth', '9', '--out', '/tmp/eos-never'], /depth must be 6n \+ 2/);
  await bad(['run', '--loss', 'hinge'], /Allowed choices are ce, focal, ldam, asl/);
  await bad(['run', '--compare', 'eos,nope'], /--compare: unknown name nope/);
  await bad(
    ['run', '--dataset', 'cifar10', '--epochs', '1', '--out', join(tmpdir(), 'eos-no-cifar')],
    /pass dataDir \(--data-dir\)/,
  );
  await bad(
    [
      'run',
      '--dataset',
      'npy',
      '--data-dir',
      '/nonexistent-eos',
      '--epochs',
      '1',
      '--out',
      join(tmpdir(), 'eos-no-npy'),
    ],
    /nonexistent-eos/,
  );
});
