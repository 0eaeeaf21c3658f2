import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { BUILD_COMMAND, candidatePaths, loadNative, NativeLoadError } from '../lib/native.js';

test('the loader names every path it tried, why each failed, and the build command', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'eos-loader-'));
  const missing = join(dir, 'absent.node');
  const corrupt = join(dir, 'corrupt.node');
  writeFileSync(corrupt, 'this is not a shared object');
  const err = t.throws(() => loadNative([missing, corrupt]), { instanceOf: NativeLoadError });
  t.true(err.message.includes(`${missing}: file not found`));
  t.true(err.message.includes(corrupt));
  t.regex(err.message, /invalid ELF header|not a|too short/i);
  t.true(err.message.includes(BUILD_COMMAND));
  t.is((err as NativeLoadError).attempts.length, 2);
});

test('EOS_NATIVE_PATH is tried first, then the cmake-js and node-gyp builds', (t) => {
  const paths = candidatePaths({ EOS_NATIVE_PATH: '/x/y.node' });
  t.is(paths[0], '/x/y.node');
  t.true(paths[1].endsWith('build/cmake/Release/eos_native.node'));
  t.true(paths[2].endsWith('build/Release/eos_native.node'));
  t.is(candidatePaths({}).length, 2);
});

test('the default load succeeds in a built checkout', (t) => {
  const { addon, path } = loadNative();
  t.true(path.endsWith('.node'));
  t.is(typeof addon.info().backend, 'string');
});
