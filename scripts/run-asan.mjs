// Runs the native tests against the AddressSanitizer + UBSan build (`npm run test:asan` builds it first):
// the plain C++ test executable when there is one, then the ava suite with the sanitized addon loaded into node
// (libasan must be preloaded because node itself is not instrumented; leak checking is off because V8 keeps
// allocations alive until exit by design).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = join(root, 'build/asan/RelWithDebInfo');
const addon = join(dir, 'eos_native.node');
if (!existsSync(addon)) {
  console.error(`run-asan: ${addon} not found; run npm run build:asan`);
  process.exit(1);
}
const libasan = spawnSync('gcc', ['-print-file-name=libasan.so'], { encoding: 'utf8' }).stdout.trim();
const env = {
  ...process.env,
  ASAN_OPTIONS: 'detect_leaks=0:abort_on_error=1',
  UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1',
  EOS_NATIVE_PATH: addon,
  EOS_SANITIZED: '1',
};

function step(title, cmd, args, stepEnv) {
  console.log(`run-asan: ${title}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', env: stepEnv, cwd: root });
  if (r.status !== 0) {
    console.error(`run-asan: ${title} failed (exit ${r.status ?? r.signal})`);
    process.exit(1);
  }
}

const nativeTests = join(dir, 'eos_native_tests');
if (existsSync(nativeTests)) step('native test executable', nativeTests, [], env);
step('ava suite with the sanitized addon', join(root, 'node_modules/.bin/ava'), [], {
  ...env,
  LD_PRELOAD: libasan,
});
