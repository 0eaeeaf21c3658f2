// Both build paths must produce a working addon: cmake-js (oneDNN when available) and node-gyp (portable).
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import test from 'ava';
import { loadNative, packageRoot } from '../lib/native.js';

const builds = [
  {
    name: 'cmake-js',
    path: resolve(packageRoot, 'build/cmake/Release/eos_native.node'),
    buildSystem: 'cmake-js',
  },
  { name: 'node-gyp', path: resolve(packageRoot, 'build/Release/eos_native.node'), buildSystem: 'node-gyp' },
];

for (const build of builds) {
  test(`the ${build.name} build loads and runs a native function`, (t) => {
    t.true(
      existsSync(build.path),
      `${build.path} is missing: npm test builds both (npm run build, build:gyp)`,
    );
    const { addon } = loadNative([build.path]);
    const info = addon.info();
    t.is(info.buildSystem, build.buildSystem);
    t.true(info.backends.includes('ref'));
    if (build.name === 'node-gyp') t.is(info.backend, 'ref');
    // One real kernel call: normalisation of a 1x1x2x2 image.
    const out = new Float32Array(4);
    addon.normalizeBatch(new Uint8Array([0, 51, 102, 255]), [1, 1, 2, 2], new Int32Array([0]), out, {
      mean: [0.2],
      std: [0.5],
    });
    t.deepEqual(
      Array.from(out).map((v) => Math.round(v * 1e5) / 1e5),
      [-0.4, 0, 0.4, 1.6],
    );
  });
}
