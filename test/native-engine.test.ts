// Runs the native engine's C++ test executable (test/native/*.cc, built by `npm run build` as
// build/cmake/Release/eos_native_tests) once per ISA level the machine has (test/isa-levels.ts): per-layer
// and per-loss finite-difference gradient checks, the whole-network checks, the oneDNN trunk against the
// reference, and the comparison with PyTorch's reference tensors (test/fixtures/torch).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import test from 'ava';
import { native, packageRoot } from '../lib/native.js';
import { isaEnv, machineIsaLevels } from './isa-levels.js';

const executable = resolve(packageRoot, 'build/cmake/Release/eos_native_tests');
const hasDnnl = native().info().backends.includes('dnnl');

for (const level of machineIsaLevels()) {
  test.serial(`the native test executable passes every check at ISA level ${level}`, (t) => {
    t.true(existsSync(executable), `${executable} is missing: npm run build compiles it`);
    const env = isaEnv(level);
    const r = spawnSync(executable, [], {
      cwd: packageRoot, // the fixtures are found from the working directory
      encoding: 'utf8',
      env: { ...env, OMP_NUM_THREADS: env.OMP_NUM_THREADS ?? '2' },
      maxBuffer: 64 * 1024 * 1024,
    });
    const lines = (r.stdout ?? '').split('\n');
    const failures = lines.filter((line) => line.startsWith('FAIL'));
    const summary =
      lines.find((line) => /^\d+ tests, \d+ checks, \d+ failed$/.test(line)) ?? '(no summary line)';
    t.log(`${level} (ONEDNN_MAX_CPU_ISA=${env.ONEDNN_MAX_CPU_ISA}): ${summary}`);
    for (const note of lines.filter((line) => line.startsWith('note '))) t.log(note);
    t.deepEqual(failures, [], `failed checks:\n${failures.join('\n')}\n${r.stderr ?? ''}`);
    t.is(r.status, 0, `exit status ${r.status ?? r.signal}; ${summary}`);
    t.regex(summary, /, 0 failed$/);
    // The PyTorch agreement must actually have run (six cases, hundreds of checks), and the oneDNN trunk
    // comparison where oneDNN is built in.
    t.true(lines.filter((line) => line.startsWith('ok   resnet20-3ch-ce:')).length > 50);
    if (hasDnnl) t.true(lines.some((line) => line.startsWith('== dnnl_trunk_matches_ref')));
  });
}
