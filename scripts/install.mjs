// The package's install step (package.json "install"; npm runs it on `npm install eos-imbalance` and on
// `npm rebuild eos-imbalance`). Uses nothing but Node's standard library and the package's own dependencies.
//
//   1. Builds the addon with cmake-js into build/cmake (the fast build: oneDNN when CMake finds a usable one;
//      CMake itself falls back to the reference backend when it does not; -DEOS_CUDA=ON when nvcc is on PATH).
//   2. If cmake-js or cmake is missing or that build fails: builds the portable reference backend with node-gyp
//      into build/Release, and prints a warning saying what was built, why the fast build failed and how to get
//      it. A build that has no oneDNN gets the same warning.
//
// npm hides an install script's output unless it fails (or runs with --foreground-scripts), so warnings are
// also written to the terminal (/dev/tty) when there is one.
//
// Skipped when EOS_SKIP_INSTALL_BUILD=1, and in a development checkout (a .git or test/ folder, neither of which
// is in the npm package): there `npm ci` would otherwise build the addon a first time before `npm test` /
// `npm start` build it their own way (npm run build, build:gyp); EOS_FORCE_INSTALL_BUILD=1 builds anyway.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, rmSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const CMAKE_OUT = join('build', 'cmake');
const CMAKE_BINARY = join(root, CMAKE_OUT, 'Release', 'eos_native.node');
const GYP_BINARY = join(root, 'build', 'Release', 'eos_native.node');
const FAST_BUILD_HOWTO = [
  '  For the fast oneDNN backend (Debian/Ubuntu), install the build tools and oneDNN, then rebuild:',
  '    sudo apt-get install cmake make g++ libdnnl-dev ocl-icd-opencl-dev',
  '    npm rebuild eos-imbalance --foreground-scripts',
];
const jobs = String(Math.max(1, Math.min(availableParallelism(), 8)));
const requireHere = createRequire(join(root, 'package.json'));

/** Prints to stderr and, when npm is hiding that (no TTY), to the terminal too. */
function warn(text) {
  process.stderr.write(`${text}\n`);
  if (process.stderr.isTTY) return;
  try {
    const tty = openSync('/dev/tty', 'w');
    writeSync(tty, `${text}\n`);
    closeSync(tty);
  } catch {
    // no terminal (CI, a service's image build): the text is in npm's output with --foreground-scripts
  }
}

function onPath(command) {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => dir && existsSync(join(dir, command)));
}

/** Runs a command, echoing its output as it comes, and resolves with its exit code and output. */
function run(command, args) {
  return new Promise((resolveRun) => {
    const child = spawn(command, args, { cwd: root, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => {
      output += d;
      process.stdout.write(d);
    });
    child.stderr.on('data', (d) => {
      output += d;
      process.stderr.write(d);
    });
    child.on('error', (err) => resolveRun({ code: -1, output: `${output}\nerror: ${err.message}` }));
    child.on('close', (code, signal) => resolveRun({ code: code ?? -1, signal, output }));
  });
}

/** The line of a build log that says what went wrong first. */
function firstError(output) {
  const lines = output.split('\n').map((l) => l.trimEnd());
  const i = lines.findIndex((l) => /^CMake Error|:\s*(fatal )?error\b|^error:/i.test(l));
  if (i >= 0) {
    // "CMake Error at CMakeLists.txt:12 (add_executable):" says where; the lines after it say what.
    const what = [];
    if (/^CMake Error/.test(lines[i])) {
      for (const l of lines.slice(i + 1)) {
        if (/^(\s*Call Stack|\s*Tried extensions|CMake |-- )/.test(l) || what.length === 3) break;
        if (l.trim()) what.push(l.trim());
        if (what.length > 0 && !what.at(-1).endsWith(':')) break;
      }
    }
    return [lines[i].trim(), ...what].join(' ');
  }
  const any = lines.find((l) => /error/i.test(l) && !/^\s*(ERR!|info|warn)/.test(l));
  return (any ?? lines.filter((l) => l.trim()).at(-1) ?? 'no output').trim();
}

/** What a built binary reports (native/addon/info.cc), or null when it does not load. */
function infoOf(path) {
  try {
    return requireHere(path).info();
  } catch (err) {
    return { loadError: String(err.message).split('\n')[0] };
  }
}

/** The fast build; resolves with null when it worked, else with why not. */
async function buildWithCmakeJs() {
  let cmakeJs;
  try {
    cmakeJs = join(dirname(requireHere.resolve('cmake-js/package.json')), 'bin', 'cmake-js');
  } catch {
    return 'cmake-js is not installed (a dependency of eos-imbalance; node_modules/cmake-js is missing)';
  }
  if (!onPath('cmake')) return 'cmake is not on PATH';
  // Configure every time (not only `build`, which skips it when a cache exists): whether oneDNN is usable is
  // decided there, and `npm rebuild` after installing it must see it. -D values stick in the cache: pass each.
  const cmakeJsBuild = async (cuda) => {
    const configured = await run(process.execPath, [
      cmakeJs,
      'configure',
      '--out',
      CMAKE_OUT,
      `--CDEOS_CUDA=${cuda ? 'ON' : 'OFF'}`,
    ]);
    if (configured.code !== 0) return configured;
    const built = await run(process.execPath, [
      cmakeJs,
      'build',
      '--out',
      CMAKE_OUT,
      '--parallel',
      jobs,
      '--target',
      'eos_native',
    ]);
    return { code: built.code, output: `${configured.output}\n${built.output}` };
  };
  const withCuda = onPath('nvcc');
  console.log(
    `eos-imbalance: building the native addon with cmake-js${withCuda ? ' (nvcc found: EOS_CUDA=ON)' : ''}`,
  );
  let result = await cmakeJsBuild(withCuda);
  if (result.code !== 0 && withCuda) {
    // A CUDA tool chain that CMake cannot use must not cost the fast CPU build.
    console.error(
      `eos-imbalance: the build with EOS_CUDA=ON failed (${firstError(result.output)}); retrying without CUDA`,
    );
    result = await cmakeJsBuild(false);
  }
  if (result.code !== 0) return `the cmake-js build failed: ${firstError(result.output)}`;
  const info = infoOf(CMAKE_BINARY);
  if (info.loadError) return `the cmake-js build does not load: ${info.loadError}`;
  if (!info.backends.includes('dnnl')) {
    // CMake built the reference backend only and said why in a warning ("eos-imbalance: oneDNN ...").
    // CMake wraps the warning's lines: up to the ';' that ends the reason.
    const said = result.output.match(/eos-imbalance: (oneDNN [^;]*);/)?.[1];
    const reason = said ? said.replace(/\s+/g, ' ') : 'oneDNN was not found';
    warn(
      [
        '',
        'eos-imbalance: WARNING: the native addon was built with cmake-js but WITHOUT oneDNN: only the portable',
        '  reference backend, several times slower.',
        `  Why: ${reason}`,
        ...FAST_BUILD_HOWTO,
        '',
      ].join('\n'),
    );
  } else {
    console.log(
      `eos-imbalance: built ${CMAKE_BINARY}: backends ${info.backends.join(', ')} ` +
        `(oneDNN ${info.dnnlVersion}, ${info.dnnlIsa})${info.cuda ? ', EOS_CUDA on' : ''}`,
    );
  }
  return null;
}

/** node-gyp as npm provides it to install scripts, else a local or PATH one. */
function nodeGypCommand() {
  if (process.env.npm_config_node_gyp && existsSync(process.env.npm_config_node_gyp)) {
    return [process.execPath, [process.env.npm_config_node_gyp]];
  }
  try {
    return [process.execPath, [requireHere.resolve('node-gyp/bin/node-gyp.js')]];
  } catch {
    return ['node-gyp', []];
  }
}

async function buildWithNodeGyp() {
  const [command, prefix] = nodeGypCommand();
  console.log('eos-imbalance: building the portable reference backend with node-gyp');
  // configure + build, not rebuild: rebuild would delete build/ with the cmake-js build folder in it.
  const result = await run(command, [...prefix, 'configure', 'build', '--jobs', jobs]);
  if (result.code !== 0) return `the node-gyp build failed: ${firstError(result.output)}`;
  const info = infoOf(GYP_BINARY);
  if (info.loadError) return `the node-gyp build does not load: ${info.loadError}`;
  return null;
}

async function main() {
  if (process.env.EOS_SKIP_INSTALL_BUILD === '1') {
    console.log('eos-imbalance: EOS_SKIP_INSTALL_BUILD=1, not building the native addon');
    return;
  }
  const devCheckout = existsSync(join(root, '.git')) || existsSync(join(root, 'test'));
  if (devCheckout && process.env.EOS_FORCE_INSTALL_BUILD !== '1') {
    console.log(
      'eos-imbalance: development checkout: not building at install (npm test / npm start / npm run build do; ' +
        'EOS_FORCE_INSTALL_BUILD=1 builds here)',
    );
    return;
  }
  const whyNotFast = await buildWithCmakeJs();
  if (whyNotFast === null) return;
  // Whatever is left of an earlier cmake-js build would load before the portable one: not the one built now.
  rmSync(CMAKE_BINARY, { force: true });
  const whyNotGyp = await buildWithNodeGyp();
  if (whyNotGyp !== null) {
    warn(
      [
        '',
        'eos-imbalance: ERROR: could not build the native addon.',
        `  cmake-js (fast build): ${whyNotFast}`,
        `  node-gyp (portable build): ${whyNotGyp}`,
        '  Both need a C++17 compiler and make; node-gyp needs python3 too.',
        ...FAST_BUILD_HOWTO,
        '',
      ].join('\n'),
    );
    process.exit(1);
  }
  warn(
    [
      '',
      'eos-imbalance: WARNING: built the PORTABLE REFERENCE backend only (node-gyp, build/Release), several times',
      '  slower than the oneDNN one.',
      `  Why: ${whyNotFast}`,
      ...FAST_BUILD_HOWTO,
      '',
    ].join('\n'),
  );
}

await main();
