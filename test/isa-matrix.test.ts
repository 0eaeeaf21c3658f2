// The ISA-sensitive TypeScript tests (oneDNN trunk against ref through the binding, the kNN kernels)
// again at every ISA level below the machine's own, each in a child ava process capped by
// test/isa-levels.ts (the normal run of the suite covers the machine's own level).
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import test from 'ava';
import { packageRoot } from '../lib/native.js';
import { isaEnv, machineIsaLevels } from './isa-levels.js';

const ava = resolve(packageRoot, 'node_modules/ava/entrypoints/cli.mjs');
const files = ['dist/test/backend-parity.test.js', 'dist/test/knn.test.js'];

for (const level of machineIsaLevels().slice(1)) {
  test.serial(`backend parity and kNN pass at ISA level ${level}`, (t) => {
    t.timeout(4 * 60_000);
    const r = spawnSync(process.execPath, [ava, ...files], {
      cwd: packageRoot,
      encoding: 'utf8',
      env: isaEnv(level),
      maxBuffer: 64 * 1024 * 1024,
    });
    const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
    const passed = /(\d+) tests? passed/.exec(out);
    t.log(`${level}: ${passed ? passed[0] : 'no summary'}`);
    t.is(r.status, 0, `ava at ${level} failed:\n${out.slice(-4000)}`);
    t.notRegex(out, /\bskipped\b/, 'a parity test was skipped: oneDNN missing from the build?');
    t.true(passed !== null && Number(passed[1]) >= 5, out.slice(-2000));
  });
}
