// Exact k-NN (native/knn): equality with a float64 brute force written here in TypeScript, on both builds
// (cmake-js and node-gyp) at every ISA level the CPU has (options.maxIsa; EOS_MAX_ISA in child
// processes), that stats.kernel names the level that ran, that the ISA-specific object files define no
// weak symbols, plus argument checks.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import test from 'ava';
import {
  CPU_ISA_LEVELS,
  type CpuIsaLevel,
  type KnnSearchOptions,
  loadNative,
  type NativeAddon,
  native,
  nativePath,
  packageRoot,
} from '../lib/native.js';
import { kNearest, kNearestSync } from '../lib/resample/knn.js';

/** Seeded uniform [0, 1) numbers (mulberry32). */
function uniform(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function normals(n: number, seed: number, mean = 0, sd = 1): Float32Array {
  const u = uniform(seed);
  return Float32Array.from(
    { length: n },
    () => mean + sd * Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u()),
  );
}

/** Integers in [0, levels): data full of exact distance ties. */
function grid(n: number, levels: number, seed: number): Float32Array {
  const u = uniform(seed);
  return Float32Array.from({ length: n }, () => Math.floor(u() * levels));
}

/** The float64 brute force: sum over t ascending of (q_t - b_t)^2, best k by (distance, index). */
function reference(q: Float32Array, b: Float32Array | null, d: number, k: number, excludeSelf = false) {
  const base = b ?? q;
  const nq = q.length / d;
  const nb = base.length / d;
  const indices = new Int32Array(nq * k);
  const distances = new Float32Array(nq * k);
  const dist = new Float64Array(nb);
  const order = Array.from({ length: nb }, (_, j) => j);
  for (let i = 0; i < nq; i++) {
    for (let j = 0; j < nb; j++) {
      let sum = 0;
      for (let t = 0; t < d; t++) {
        const diff = q[i * d + t] - base[j * d + t];
        sum += diff * diff;
      }
      dist[j] = sum;
    }
    const candidates = excludeSelf ? order.filter((j) => j !== i) : order.slice();
    candidates.sort((x, y) => dist[x] - dist[y] || x - y);
    for (let s = 0; s < k; s++) {
      indices[i * k + s] = candidates[s];
      distances[i * k + s] = dist[candidates[s]];
    }
  }
  return { indices, distances };
}

/** First difference between two results, or null. */
function firstDifference(
  got: { indices: Int32Array; distances: Float32Array },
  want: { indices: Int32Array; distances: Float32Array },
  k: number,
): string | null {
  if (got.indices.length !== want.indices.length)
    return `length ${got.indices.length} != ${want.indices.length}`;
  for (let e = 0; e < want.indices.length; e++) {
    if (got.indices[e] !== want.indices[e] || !Object.is(got.distances[e], want.distances[e])) {
      const row = Math.floor(e / k);
      return (
        `query ${row}, rank ${e % k}: got (${got.indices[e]}, ${got.distances[e]}), ` +
        `want (${want.indices[e]}, ${want.distances[e]})`
      );
    }
  }
  return null;
}

/** The kernel a search capped at `level` runs (bf16 only at avx512_bf16, when allowed and d <= 1024). */
function kernelOf(level: CpuIsaLevel, bf16 = true, d = 1): string {
  if (level === 'avx512_bf16') return bf16 && d <= 1024 ? 'avx512bf16' : 'avx512';
  return level;
}

/** The highest level this CPU (capped by EOS_MAX_ISA) runs, read from what an uncapped search reports. */
function topLevel(addon: NativeAddon): CpuIsaLevel {
  const kernel = addon.knnSearchSync(new Float32Array(8), null, 2, 1).stats.kernel;
  const level = CPU_ISA_LEVELS.find((l) => kernelOf(l) === kernel);
  if (level === undefined) throw new Error(`unknown kernel '${kernel}'`);
  return level;
}

/** Every level from portable up to the top one. */
function levelsOf(addon: NativeAddon): CpuIsaLevel[] {
  return CPU_ISA_LEVELS.slice(0, CPU_ISA_LEVELS.indexOf(topLevel(addon)) + 1);
}

// Each variant runs every case: the cmake-js build at every ISA level this CPU has (bf16 where AVX512-BF16
// exists), its top level in float32 only, and the node-gyp build at its top level and portable.
const builds: { name: string; addon: () => NativeAddon; options: KnnSearchOptions }[] = [
  ...levelsOf(native()).map((level) => ({
    name: `cmake-js ${level}`,
    addon: native,
    options: { maxIsa: level },
  })),
  { name: 'cmake-js float32', addon: native, options: { bf16: false } },
];
// EOS_GYP_NATIVE_PATH: a node-gyp build elsewhere (node-gyp always builds into ./build/Release).
const gypPath = resolve(
  process.env.EOS_GYP_NATIVE_PATH ?? resolve(packageRoot, 'build/Release/eos_native.node'),
);
if (existsSync(gypPath)) {
  const gyp = () => loadNative([gypPath]).addon;
  builds.push({ name: 'node-gyp', addon: gyp, options: {} });
  builds.push({ name: 'node-gyp portable', addon: gyp, options: { maxIsa: 'portable' } });
}

interface Case {
  name: string;
  x: Float32Array;
  base?: Float32Array;
  d: number;
  k: number;
  options?: KnnSearchOptions;
}

const d64 = normals(700 * 64, 1);
const d9 = normals(260 * 9, 7);
const cases: Case[] = [
  { name: 'self, d 64, k 11, automatic tiles', x: d64, d: 64, k: 11, options: { excludeSelf: true } },
  {
    name: 'self, d 64, k 11, tile 97 (700 = 7 x 97 + 21)',
    x: d64,
    d: 64,
    k: 11,
    options: { excludeSelf: true, tileRows: 97 },
  },
  {
    name: 'self, tile 1 (blocks of one row)',
    x: normals(150 * 5, 2),
    d: 5,
    k: 4,
    options: { excludeSelf: true, tileRows: 1 },
  },
  { name: 'self, d 1', x: normals(300, 3), d: 1, k: 6, options: { excludeSelf: true, tileRows: 50 } },
  {
    name: 'self, d 33, k 1',
    x: normals(513 * 33, 4),
    d: 33,
    k: 1,
    options: { excludeSelf: true, tileRows: 100 },
  },
  { name: 'self, d 200, k 25', x: normals(400 * 200, 5), d: 200, k: 25, options: { excludeSelf: true } },
  { name: 'self including itself', x: normals(333 * 7, 6), d: 7, k: 9, options: { tileRows: 40 } },
  // A base that is a copy of x: the query x base sweep, not the pair-once self-search.
  {
    name: 'swept self copy, tiles 13 x 29',
    x: d9,
    base: d9.slice(),
    d: 9,
    k: 8,
    options: { excludeSelf: true, tileRows: 13, tileCols: 29 },
  },
  {
    name: 'queries against a base, automatic tiles',
    x: normals(211 * 12, 8),
    base: normals(777 * 12, 9),
    d: 12,
    k: 10,
  },
  {
    name: 'queries against a base, tiles 5 x 3',
    x: normals(61 * 12, 10),
    base: normals(95 * 12, 11),
    d: 12,
    k: 7,
    options: { tileRows: 5, tileCols: 3 },
  },
  { name: 'k = nb', x: normals(40 * 3, 12), base: normals(17 * 3, 13), d: 3, k: 17 },
  {
    name: 'k = nb - 1 excluding self',
    x: normals(30 * 4, 14),
    d: 4,
    k: 29,
    options: { excludeSelf: true, tileRows: 8 },
  },
  { name: 'one base row', x: normals(10 * 2, 15), base: normals(2, 16), d: 2, k: 1 },
  // Exact ties everywhere: small integers give exact float distances, so only the index rule decides.
  {
    name: 'integer grid ties, self',
    x: grid(600 * 3, 3, 17),
    d: 3,
    k: 12,
    options: { excludeSelf: true, tileRows: 64 },
  },
  {
    name: 'integer grid ties, swept',
    x: grid(300 * 2, 4, 18),
    base: grid(500 * 2, 4, 19),
    d: 2,
    k: 9,
    options: { tileRows: 7, tileCols: 33 },
  },
  // Far from the origin, tiny spread: the GEMM form |q|^2 + |b|^2 - 2 q.b cancels catastrophically
  // without the centring frame.
  {
    name: 'offset 1000, spread 0.01',
    x: normals(400 * 16, 20, 1000, 0.01),
    d: 16,
    k: 10,
    options: { excludeSelf: true },
  },
  {
    name: 'huge values (1e15)',
    x: normals(200 * 8, 21, 0, 1e15),
    d: 8,
    k: 5,
    options: { excludeSelf: true },
  },
  {
    name: 'tiny values (1e-15)',
    x: normals(200 * 8, 22, 0, 1e-15),
    d: 8,
    k: 5,
    options: { excludeSelf: true },
  },
];

for (const build of builds) {
  for (const c of cases) {
    test(`${build.name}: ${c.name} equals the float64 brute force`, (t) => {
      const got = build
        .addon()
        .knnSearchSync(c.x, c.base ?? null, c.d, c.k, { ...c.options, ...build.options });
      const want = reference(c.x, c.base ?? null, c.d, c.k, c.options?.excludeSelf);
      t.is(firstDifference(got, want, c.k), null);
      const level = build.options.maxIsa;
      if (level !== undefined) t.is(got.stats.kernel, kernelOf(level, build.options.bf16 ?? true, c.d));
    });
  }

  test(`${build.name}: many exact duplicates (more than the spare candidates) still give the exact answer`, (t) => {
    // 12 distinct points, 30 copies each, in shuffled row order: at k = 20 the 20th neighbour ties with
    // 9 more copies, beyond the float pass's spare candidates, so those queries go to the brute force.
    const d = 6;
    const points = normals(12 * d, 23);
    const u = uniform(24);
    const rows = Array.from({ length: 360 }, (_, i) => i % 12);
    for (let i = rows.length - 1; i > 0; i--) {
      const j = Math.floor(u() * (i + 1));
      [rows[i], rows[j]] = [rows[j], rows[i]];
    }
    const x = new Float32Array(rows.length * d);
    for (let i = 0; i < rows.length; i++) x.set(points.subarray(rows[i] * d, rows[i] * d + d), i * d);
    const got = build
      .addon()
      .knnSearchSync(x, null, d, 20, { excludeSelf: true, tileRows: 50, ...build.options });
    t.is(firstDifference(got, reference(x, null, d, 20, true), 20), null);
    t.true(got.stats.bruteForceRows > 0, 'the certificate should have refused the tied queries');
  });

  test(`${build.name}: where float32 cancellation scrambles the ranking, the certificate catches it`, (t) => {
    // Two tight clusters at +-1000 (the mean is ~0, so centring cannot help): |q|^2 + |b|^2 - 2 q.b rounds
    // with errors ~ 1e-7 * 3e7, far above the within-cluster distances (~1e-3). Every query fails the
    // certificate and is recomputed exactly.
    const d = 16;
    const x = normals(300 * d, 40, 0, 0.01);
    for (let i = 0; i < 300; i++) {
      for (let f = 0; f < d; f++) x[i * d + f] += i % 2 === 0 ? 1000 : -1000;
    }
    const got = build.addon().knnSearchSync(x, null, d, 5, { excludeSelf: true, ...build.options });
    t.is(firstDifference(got, reference(x, null, d, 5, true), 5), null);
    t.true(got.stats.bruteForceRows > 0);
  });

  test(`${build.name}: distances closer than bf16 can resolve are settled by the float32 pass`, (t) => {
    // Grid points 0..3 plus offsets ~1e-3: neighbour distances differ by ~1e-3 relative, below bf16's
    // 2^-9 resolution but far above float32's.
    const d = 8;
    const u = uniform(41);
    const x = Float32Array.from({ length: 500 * d }, () => Math.floor(u() * 4) + 1e-3 * u());
    const got = build.addon().knnSearchSync(x, null, d, 10, { excludeSelf: true, ...build.options });
    t.is(firstDifference(got, reference(x, null, d, 10, true), 10), null);
    if (got.stats.kernel === 'avx512bf16') t.true(got.stats.float32Rows > 0);
    else t.is(got.stats.float32Rows, 0);
  });

  test(`${build.name}: the answer does not depend on threads or tiles`, (t) => {
    const x = normals(900 * 24, 25);
    const one = build
      .addon()
      .knnSearchSync(x, null, 24, 7, { excludeSelf: true, threads: 1, ...build.options });
    for (const options of [{ threads: 2 }, { threads: 3, tileRows: 100 }, { threads: 2, tileRows: 7 }]) {
      const other = build
        .addon()
        .knnSearchSync(x, null, 24, 7, { excludeSelf: true, ...options, ...build.options });
      t.is(firstDifference(other, one, 7), null, JSON.stringify(options));
    }
  });
}

test('every ISA level gives the same answer on a larger self-search, and stats.kernel names it', (t) => {
  // Several blocks per side (pair-once scheduling across threads), odd d, ties from rounding to 1/8.
  const d = 37;
  const x = Float32Array.from(normals(2500 * d, 42), (v) => Math.round(v * 8) / 8);
  const levels = levelsOf(native());
  const first = native().knnSearchSync(x, null, d, 9, { excludeSelf: true, maxIsa: levels[0] });
  for (const level of levels) {
    for (const threads of [1, 2]) {
      const got = native().knnSearchSync(x, null, d, 9, { excludeSelf: true, threads, maxIsa: level });
      t.is(got.stats.kernel, kernelOf(level, true, d));
      t.is(firstDifference(got, first, 9), null, `${level}, ${threads} threads`);
    }
  }
});

test('EOS_MAX_ISA caps the kernels of a process, below any options.maxIsa', (t) => {
  const top = native().info().cpuIsaDetected; // the child's EOS_MAX_ISA replaces this process's cap
  const script =
    `import { native } from ${JSON.stringify(resolve(packageRoot, 'dist/lib/native.js'))};` +
    `const x = new Float32Array(64 * 5).map((_, i) => Math.sin(i));` +
    `process.stdout.write(native().knnSearchSync(x, null, 5, 3, { maxIsa: 'avx512_bf16' }).stats.kernel);`;
  for (const level of CPU_ISA_LEVELS) {
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, EOS_NATIVE_PATH: nativePath(), EOS_MAX_ISA: level },
      encoding: 'utf8',
    });
    t.is(child.status, 0, child.stderr);
    const capped = CPU_ISA_LEVELS[Math.min(CPU_ISA_LEVELS.indexOf(level), CPU_ISA_LEVELS.indexOf(top))];
    t.is(child.stdout, kernelOf(capped), `EOS_MAX_ISA=${level}`);
  }
});

// An inline function or template instantiated in a file compiled for AVX2 or AVX-512 is a weak symbol,
// and the linker may keep that copy for every caller: portable code would then die with an illegal
// instruction on an older CPU. The kernels files keep everything local but their *_kernel_set() getters.
test('the per-ISA kernel objects define no weak symbols, and no global one but their getters', (t) => {
  const objectDirs = [
    join(dirname(dirname(nativePath())), 'CMakeFiles/eos_core.dir/native/knn'), // cmake-js: <out>/Release/x.node
  ];
  if (existsSync(gypPath)) objectDirs.push(join(dirname(gypPath), 'obj.target/eos_native/native/knn'));
  for (const dir of objectDirs) {
    const objects = existsSync(dir) ? readdirSync(dir).filter((f) => /^kernels_.*\.o$/.test(f)) : [];
    t.true(
      objects.length >= 3,
      `kernel object files expected in ${dir}, found ${objects.join(', ') || 'none'}`,
    );
    for (const object of objects) {
      const nm = spawnSync('nm', ['-C', '--defined-only', join(dir, object)], { encoding: 'utf8' });
      t.is(nm.status, 0, `nm ${object}: ${nm.stderr}`);
      const bad = nm.stdout
        .split('\n')
        .filter((line) => / [WVu] /.test(line) || (/ [A-Z] /.test(line) && !/_kernel_set\(\)$/.test(line)));
      t.deepEqual(bad, [], `${join(dir, object)} exports symbols other code may bind to`);
    }
  }
});

test('the self-search computes each pair once; a separate base is swept', (t) => {
  const x = normals(100 * 4, 26);
  t.true(native().knnSearchSync(x, null, 4, 3).stats.symmetric);
  t.false(native().knnSearchSync(x, x.slice(), 4, 3).stats.symmetric);
});

test('knnSearch resolves to what knnSearchSync returns, and concurrent searches do not interfere', async (t) => {
  const inputs = [normals(500 * 10, 27), normals(300 * 10, 28), grid(400 * 10, 3, 29)];
  const results = await Promise.all(
    inputs.map((x) => native().knnSearch(x, null, 10, 6, { excludeSelf: true })),
  );
  inputs.forEach((x, i) => {
    const sync = native().knnSearchSync(x, null, 10, 6, { excludeSelf: true });
    t.is(firstDifference(results[i], sync, 6), null);
  });
});

test('kNearest and kNearestSync: shapes, excludeSelf and base', async (t) => {
  const x = normals(120 * 5, 30);
  const base = normals(80 * 5, 31);
  const self = await kNearest(x, 5, 4, { excludeSelf: true });
  t.deepEqual(Object.keys(self).sort(), ['distances', 'indices']);
  t.is(self.indices.length, 120 * 4);
  t.is(firstDifference(self, reference(x, null, 5, 4, true), 4), null);
  t.is(firstDifference(kNearestSync(x, 5, 4, { excludeSelf: true }), self, 4), null);
  const against = kNearestSync(x, 5, 3, { base, threads: 1 });
  t.is(firstDifference(against, reference(x, base, 5, 3), 3), null);
  // Without excludeSelf each row finds itself first, at distance 0.
  const withSelf = kNearestSync(x, 5, 2);
  for (let i = 0; i < 120; i++) {
    t.is(withSelf.indices[i * 2], i);
    t.is(withSelf.distances[i * 2], 0);
  }
});

test('bad arguments throw named TypeErrors and RangeErrors', (t) => {
  const x = normals(10 * 4, 32);
  const search =
    (...args: unknown[]) =>
    () =>
      (native().knnSearchSync as (...a: unknown[]) => unknown)(...args);
  t.throws(search(new Float64Array(8), null, 4, 1), {
    instanceOf: TypeError,
    message: /queries must be a Float32Array/,
  });
  t.throws(search([1, 2, 3, 4], null, 4, 1), { instanceOf: TypeError, message: /queries/ });
  t.throws(search(x, [1, 2, 3, 4], 4, 1), { instanceOf: TypeError, message: /base must be a Float32Array/ });
  t.throws(search(new Float32Array(0), null, 4, 1), {
    instanceOf: RangeError,
    message: /queries must not be empty/,
  });
  t.throws(search(x, new Float32Array(0), 4, 1), {
    instanceOf: RangeError,
    message: /base must not be empty/,
  });
  t.throws(search(x, null, 3, 1), {
    instanceOf: RangeError,
    message: /queries length 40 is not a multiple of d = 3/,
  });
  t.throws(search(x, new Float32Array(6), 4, 1), {
    instanceOf: RangeError,
    message: /base length 6 is not a multiple/,
  });
  t.throws(search(x, null, 0, 1), { instanceOf: RangeError, message: /^d must be in/ });
  t.throws(search(x, null, 2.5, 1), { instanceOf: TypeError, message: /^d must be an integer/ });
  t.throws(search(x, null, '4', 1), { instanceOf: TypeError, message: /^d must be a number/ });
  t.throws(search(x, null, 4, 0), { instanceOf: RangeError, message: /^k must be in \[1, 10\]/ });
  t.throws(search(x, null, 4, 11), { instanceOf: RangeError, message: /^k must be in \[1, 10\]/ });
  t.throws(search(x, null, 4, 10, { excludeSelf: true }), {
    instanceOf: RangeError,
    message: /^k must be in \[1, 9\] \(10 base rows, minus the query itself\)/,
  });
  t.throws(search(x, null, 4, 1.5), { instanceOf: TypeError, message: /^k must be an integer/ });
  t.throws(search(x, null, 4, Number.NaN), { instanceOf: TypeError, message: /^k must be an integer/ });
  t.throws(search(x, null, 4), {
    instanceOf: TypeError,
    message: /expected \(queries, base, d, k, options\?\)/,
  });
  t.throws(search(new Float32Array(4), null, 4, 1, { excludeSelf: true }), {
    instanceOf: RangeError,
    message: /excludeSelf leaves no candidate/,
  });
  t.throws(search(x, normals(12, 33), 4, 1, { excludeSelf: true }), {
    instanceOf: RangeError,
    message: /options.excludeSelf needs one query per base row .* 10 queries and 3 base rows/,
  });
  t.throws(search(x, null, 4, 1, 'fast'), { instanceOf: TypeError, message: /^options must be an object/ });
  t.throws(search(x, null, 4, 1, { excludeSelf: 1 }), {
    instanceOf: TypeError,
    message: /^options.excludeSelf must be a boolean/,
  });
  t.throws(search(x, null, 4, 1, { threads: -1 }), {
    instanceOf: RangeError,
    message: /^options.threads must be in/,
  });
  t.throws(search(x, null, 4, 1, { tileRows: 0 }), {
    instanceOf: RangeError,
    message: /^options.tileRows must be in/,
  });
  t.throws(search(x, null, 4, 1, { bf16: 'yes' }), {
    instanceOf: TypeError,
    message: /^options.bf16 must be a boolean/,
  });
  t.throws(search(x, null, 4, 1, { tileCols: 1.5 }), {
    instanceOf: TypeError,
    message: /^options.tileCols must be an integer/,
  });
  t.throws(search(x, null, 4, 1, { maxIsa: 'sse4' }), {
    instanceOf: RangeError,
    message: /^options.maxIsa must be 'portable', 'avx2', 'avx512' or 'avx512_bf16', got 'sse4'/,
  });
  t.throws(search(x, null, 4, 1, { maxIsa: 2 }), {
    instanceOf: TypeError,
    message: /^options.maxIsa must be/,
  });
});

test('non-finite values are refused with the first bad row named, synchronously and asynchronously', async (t) => {
  const x = normals(10 * 4, 34);
  x[6 * 4 + 2] = Number.NaN;
  x[8 * 4] = Number.POSITIVE_INFINITY;
  t.throws(() => native().knnSearchSync(x, null, 4, 2), {
    instanceOf: RangeError,
    message: 'queries: row 6 has a non-finite value (NaN at feature 2); every value must be finite',
  });
  await t.throwsAsync(native().knnSearch(x, null, 4, 2), {
    instanceOf: RangeError,
    message: /^queries: row 6 /,
  });
  const base = normals(5 * 4, 35);
  base[3 * 4 + 1] = Number.NEGATIVE_INFINITY;
  await t.throwsAsync(native().knnSearch(normals(8, 36), base, 4, 2), {
    instanceOf: RangeError,
    message: /^base: row 3 has a non-finite value \(-Infinity at feature 1\)/,
  });
  await t.throwsAsync(kNearest(x, 4, 2), { instanceOf: RangeError, message: /row 6/ });
  // Argument errors of the async form throw before any work is queued.
  t.throws(() => native().knnSearch(x, null, 4, 0), { instanceOf: RangeError, message: /^k must be in/ });
});
