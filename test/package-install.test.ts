// The package as a user gets it: `npm pack`, `npm install <tarball>` into an empty project (the install step
// builds the addon there, scripts/install.mjs), then a script that imports 'eos-imbalance' by name and trains a
// tiny ResNet-8 for two steps. It must get the same fast backend as this checkout's cmake-js build.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { native, packageRoot } from '../lib/native.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolveRun) => {
    execFile(command, args, { cwd, env, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolveRun({ code, stdout, stderr });
    });
  });
}

const tail = (r: Run) => `${r.stdout}\n${r.stderr}`.split('\n').slice(-60).join('\n');

/** The environment of a user's shell: none of the npm_* variables `npm test` sets, none of ours. */
function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_/i.test(k) || k === 'INIT_CWD' || k.startsWith('EOS_')) continue;
    env[k] = v;
  }
  // As the project's .npmrc does (onnxruntime-node would otherwise try to download CUDA binaries).
  env.ONNXRUNTIME_NODE_INSTALL = 'skip';
  return env;
}

const TRAIN_SCRIPT = `
import { loadNative, ResNet, SGD, trainPhase1 } from 'eos-imbalance';

const { addon, path } = loadNative();
const [n, side] = [32, 16];
const images = new Uint8Array(n * side * side);
for (let i = 0; i < images.length; i++) images[i] = (i * 2654435761) >>> 24;
const labels = Int32Array.from({ length: n }, (_, i) => i % 2);
const model = ResNet.create({ depth: 8, inChannels: 1, inputSize: side, classes: 2, head: 'linear', seed: 1 });
const data = { images, labels, shape: [n, 1, side, side], classes: 2 };
const { history } = await trainPhase1(model, data, { ...SGD, epochs: 1, batch: 16 });
console.log(JSON.stringify({ info: addon.info(), path, modelBackend: model.backend, history }));
`;

test('npm pack + npm install in an empty project: builds the fast addon, imports by name, trains', async (t) => {
  t.timeout(10 * 60_000);
  const dir = mkdtempSync(join(tmpdir(), 'eos-package-install-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const env = userEnv();

  // --ignore-scripts: prepack (npm run build:ts) would delete dist/ under the other tests; `npm test` has built
  // dist/lib already.
  const packed = await run(
    'npm',
    ['pack', '--ignore-scripts', '--json', '--pack-destination', dir],
    packageRoot,
    env,
  );
  t.is(packed.code, 0, tail(packed));
  const [pack] = JSON.parse(packed.stdout) as {
    filename: string;
    size: number;
    entryCount: number;
    files: { path: string }[];
  }[];
  const files = pack.files.map((f) => f.path);
  t.log(`tarball ${pack.filename}: ${pack.size} bytes, ${pack.entryCount} files`);
  t.deepEqual(
    files.filter((f) => /^(test|bench|models|dist\/test|dist\/bench)\//.test(f) || f.includes('fixtures')),
    [],
  );
  for (const needed of [
    'dist/lib/index.js',
    'dist/lib/index.d.ts',
    'dist/lib/cli/eos.js',
    'scripts/install.mjs',
    'CMakeLists.txt',
    'binding.gyp',
    'native/sources.json',
    'cmake/dnnl-probe/CMakeLists.txt',
  ]) {
    t.true(files.includes(needed), `${needed} is in the tarball`);
  }

  const app = join(dir, 'app');
  const tgz = join(dir, pack.filename);
  mkdirSync(app);
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify({ name: 'eos-consumer', version: '1.0.0', private: true, type: 'module' }),
  );
  const started = performance.now();
  const installed = await run(
    'npm',
    ['install', tgz, '--prefer-offline', '--no-audit', '--no-fund', '--foreground-scripts'],
    app,
    env,
  );
  t.log(`npm install (with the addon build): ${((performance.now() - started) / 1000).toFixed(0)} s`);
  t.is(installed.code, 0, tail(installed));
  const installLog = `${installed.stdout}\n${installed.stderr}`;
  t.false(installLog.includes('eos-imbalance: WARNING'), `the install warned:\n${tail(installed)}`);

  writeFileSync(join(app, 'train.mjs'), TRAIN_SCRIPT);
  const trained = await run(process.execPath, ['train.mjs'], app, env);
  t.is(trained.code, 0, tail(trained));
  const result = JSON.parse(trained.stdout.trim().split('\n').at(-1)!) as {
    info: { backend: string; backends: string[]; buildSystem: string; cuda: boolean };
    path: string;
    modelBackend: string;
    history: { loss: number; accuracy: number }[];
  };
  t.log(`consumer addon: ${JSON.stringify(result.info)}`);
  const expected = native().info().backends.includes('dnnl') ? 'dnnl' : 'ref';
  t.is(result.info.buildSystem, 'cmake-js');
  t.is(result.info.backend, expected);
  t.is(result.modelBackend, expected);
  t.is(result.path, join(app, 'node_modules/eos-imbalance/build/cmake/Release/eos_native.node'));
  t.is(result.history.length, 1);
  t.true(Number.isFinite(result.history[0].loss), `loss ${result.history[0].loss}`);

  // The `eos` command of the installed package.
  const info = await run(join(app, 'node_modules/.bin/eos'), ['info', '--json'], app, env);
  t.is(info.code, 0, tail(info));
  const report = JSON.parse(info.stdout) as { addon: { backend: string; path: string } };
  t.is(report.addon.backend, expected);
  t.is(report.addon.path, result.path);
});
