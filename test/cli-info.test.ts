import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import test from 'ava';
import { collectInfo, formatInfo } from '../lib/cli/info.js';
import { packageRoot } from '../lib/native.js';

const eos = resolve(packageRoot, 'dist/lib/cli/eos.js');

test('eos info prints versions, backend, ISA, threads, CUDA and the data set status', (t) => {
  const text = execFileSync(process.execPath, [eos, 'info'], { encoding: 'utf8' });
  t.regex(text, /^eos-imbalance \d+\.\d+\.\d+/);
  t.regex(text, new RegExp(`node\\s+${process.version.replace(/\./g, '\\.')}`));
  t.regex(text, /backend\s+(dnnl \(oneDNN \d+\.\d+\.\d+, CPU ISA \w+\)|ref \(portable)/);
  t.regex(text, /threads\s+\d+/);
  t.regex(text, /cuda\s+(built|not built)/);
  t.regex(text, /default data\s+fashion-mnist at \/usr\/share\/datasets\/fashion-mnist: (installed|MISSING)/);
});

test('eos info --json agrees with the library report', (t) => {
  const json = JSON.parse(execFileSync(process.execPath, [eos, 'info', '--json'], { encoding: 'utf8' }));
  const report = collectInfo();
  t.deepEqual(json.package, report.package);
  t.is(json.addon.backend, report.addon.backend);
  t.is(json.dataset.installed, report.dataset.installed);
  t.true(formatInfo(report).includes(report.addon.path));
});

test('an unknown command or a bad flag fails with a clear message', (t) => {
  const err = t.throws(() =>
    execFileSync(process.execPath, [eos, 'frobnicate'], { encoding: 'utf8', stdio: 'pipe' }),
  );
  t.regex(String((err as { stderr?: string }).stderr), /unknown command 'frobnicate'/);
  const err2 = t.throws(() =>
    execFileSync(process.execPath, [eos, 'run', '--epochs', '0'], { encoding: 'utf8', stdio: 'pipe' }),
  );
  t.regex(
    String((err2 as { stderr?: string }).stderr),
    /--epochs must be a decimal integer in \[1, 100000\]/,
  );
});
