// Runs the native engine's C++ test executable (test/native/*.cc, built by `npm run build` as
// build/cmake/Release/eos_native_tests): per-layer and per-loss finite-difference gradient checks, the
// whole-network checks, and the comparison with PyTorch's reference tensors (test/fixtures/torch).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import test from 'ava';
import { packageRoot } from '../lib/native.js';

const executable = resolve(packageRoot, 'build/cmake/Release/eos_native_tests');

test('the native test executable passes every check', (t) => {
  t.true(existsSync(executable), `${executable} is missing: npm run build compiles it`);
  const r = spawnSync(executable, [], {
    cwd: packageRoot, // the fixtures are found from the working directory
    encoding: 'utf8',
    env: { ...process.env, OMP_NUM_THREADS: process.env.OMP_NUM_THREADS ?? '2' },
    maxBuffer: 64 * 1024 * 1024,
  });
  const lines = (r.stdout ?? '').split('\n');
  const failures = lines.filter((line) => line.startsWith('FAIL'));
  const summary =
    lines.find((line) => /^\d+ tests, \d+ checks, \d+ failed$/.test(line)) ?? '(no summary line)';
  t.log(summary);
  t.deepEqual(failures, [], `failed checks:\n${failures.join('\n')}\n${r.stderr ?? ''}`);
  t.is(r.status, 0, `exit status ${r.status ?? r.signal}; ${summary}`);
  t.regex(summary, /, 0 failed$/);
  // The PyTorch agreement must actually have run (six cases, hundreds of checks).
  t.true(lines.filter((line) => line.startsWith('ok   resnet20-3ch-ce:')).length > 50);
});
