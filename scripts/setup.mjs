// Prepares a fresh clone for `npm test` / `npm start`, using nothing but Node's standard library:
//   1. system packages (Debian/Ubuntu): installs the missing ones with apt-get when running as root, printing
//      what it installs; otherwise stops with the exact command to run;
//   2. npm packages: `npm ci` when node_modules does not match package-lock.json.
// `--peers NAME,...` does step 1 for the Debian packages of the named benchmark peers as well (the bench:*
// scripts pass theirs): the one list of every system package the project uses is this file.
// Set EOS_SKIP_SETUP=1 to skip everything (e.g. on a machine prepared another way).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const SYSTEM_PACKAGES = [
  'cmake',
  'g++',
  'make',
  'python3',
  'libdnnl-dev',
  // oneDNN's CMake config (dnnl-config.cmake) calls find_package(OpenCL); libdnnl-dev only recommends it.
  'ocl-icd-opencl-dev',
  // Approximate nearest-enemy search (--knn ivf|hnsw; native/knn/approx_knn.h) links libfaiss; it pulls in the
  // BLAS and LAPACK it links.
  'libfaiss-dev',
  'dataset-fashion-mnist',
];
// Benchmark peers (bench/), never needed by the build, the tests or `npm start`.
// OpenBLAS with each: Debian's numpy, faiss and scikit-learn link libblas.so.3, which on a fresh machine is
// the reference BLAS (measured on Zen 3: sgemm at 3 GFLOP/s against OpenBLAS's ~150, so bench:train's
// machine limit was wrong by 50x and faiss's IndexFlatL2, a GEMM, ran 40x below itself); the package makes
// OpenBLAS the libblas.so.3 alternative.
const PEER_PACKAGES = {
  pytorch: ['python3-torch', 'python3-numpy', 'libopenblas0-pthread'],
  faiss: ['python3-faiss', 'python3-numpy', 'libopenblas0-pthread'],
  sklearn: ['python3-sklearn', 'python3-numpy', 'libopenblas0-pthread'],
  imblearn: ['python3-imblearn', 'python3-sklearn', 'python3-numpy', 'libopenblas0-pthread'],
};

function run(cmd, args, env = process.env) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', env, cwd: root });
  if (r.status !== 0) {
    console.error(`setup: '${cmd} ${args.join(' ')}' failed (exit ${r.status ?? r.signal})`);
    process.exit(1);
  }
}

function missingSystemPackages(packages) {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format placeholders
  const format = '-f=${Package} ${Status}\\n';
  const probe = spawnSync('dpkg-query', ['-W', format, ...packages], {
    encoding: 'utf8',
  });
  if (probe.error) return null; // not a dpkg system
  const installed = new Set(
    probe.stdout
      .split('\n')
      .filter((l) => l.endsWith('install ok installed'))
      .map((l) => l.split(' ')[0]),
  );
  return packages.filter((p) => !installed.has(p));
}

function ensureSystemPackages(packages) {
  const missing = missingSystemPackages(packages);
  if (missing === null) {
    console.warn(`setup: not a Debian-like system; make sure these are installed: ${packages.join(' ')}`);
    return;
  }
  if (missing.length === 0) return;
  const command = `apt-get update && apt-get install -y --no-install-recommends ${missing.join(' ')}`;
  if (process.getuid?.() !== 0) {
    console.error(
      `setup: missing system packages: ${missing.join(' ')}\nRun as root:\n  sudo sh -c '${command}'`,
    );
    process.exit(1);
  }
  console.log(`setup: installing system packages: ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  run('apt-get', ['update', '-q'], env);
  run('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...missing], env);
}

function ensureNpmPackages() {
  const lock = readFileSync(join(root, 'package-lock.json'));
  const hash = createHash('sha256').update(lock).digest('hex');
  const stamp = join(root, 'node_modules', '.eos-lock-sha256');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === hash) return;
  console.log('setup: npm ci (node_modules does not match package-lock.json)');
  run('npm', ['ci', '--no-audit', '--no-fund']);
  writeFileSync(stamp, hash);
}

function peerPackages(argv) {
  const i = argv.indexOf('--peers');
  if (i < 0) return [];
  const names = (argv[i + 1] ?? '').split(',').filter(Boolean);
  const unknown = names.filter((n) => !(n in PEER_PACKAGES));
  if (names.length === 0 || unknown.length > 0) {
    console.error(`setup: --peers takes a comma-separated list of ${Object.keys(PEER_PACKAGES).join(', ')}`);
    process.exit(2);
  }
  return names.flatMap((n) => PEER_PACKAGES[n]);
}

if (process.env.EOS_SKIP_SETUP !== '1') {
  ensureSystemPackages([...new Set([...SYSTEM_PACKAGES, ...peerPackages(process.argv.slice(2))])]);
  ensureNpmPackages();
}
