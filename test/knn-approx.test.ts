// Approximate nearest neighbours over libfaiss (native/knn/approx_knn.h, lib/resample/knn-method.ts): recall
// against the exact search on a clustered fixture, self-exclusion, determinism (seed, threads, tiling), the
// exact fallback, abort, bad parameters named, method 'exact' unchanged, the --knn flag, and the refusal on a
// build without libfaiss (through the info flag the refusal reads).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import test from 'ava';
import { InvalidArgumentError } from 'commander';
import { knnChoice } from '../lib/cli/option-parsers.js';
import { KNN } from '../lib/defaults.js';
import { recallAtK } from '../lib/metrics/knn-recall.js';
import { loadNative, native, packageRoot } from '../lib/native.js';
import { Xoshiro128 } from '../lib/random.js';
import { EOS } from '../lib/resample/eos.js';
import { kNearest, kNearestRecorded } from '../lib/resample/knn.js';
import { requireKnnSupport, resolveKnn, validateKnnChoice } from '../lib/resample/knn-method.js';

const faiss = native().info().faiss;
const approx = faiss ? test : test.skip;
if (!faiss)
  console.log('knn-approx: approximate-search tests skipped: this addon has no libfaiss (info().faiss)');

const K = 10;
const D = 16;

/** Seeded clustered rows: `clusters` centres uniform in [0, 10)^d, each row a centre plus uniform [-1, 1)
 * noise; row i belongs to cluster i mod clusters, its label is the cluster mod `classes`. */
function clustered(n: number, d: number, clusters: number, classes: number, seed: number) {
  const rng = new Xoshiro128(seed);
  const centres = Float32Array.from({ length: clusters * d }, () => 10 * rng.uniform());
  const x = new Float32Array(n * d);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % clusters;
    y[i] = c % classes;
    for (let j = 0; j < d; j++) x[i * d + j] = centres[c * d + j] + 2 * rng.uniform() - 1;
  }
  return { x, y };
}

const fixture = clustered(6000, D, 60, 5, 1);

approx(
  'hnsw and ivf with their defaults: recall@10 against the exact search >= 0.95 on clustered rows',
  async (t) => {
    const exact = await kNearest(fixture.x, D, K, { excludeSelf: true });
    for (const method of ['hnsw', 'ivf'] as const) {
      const found = await kNearestRecorded(fixture.x, D, K, { excludeSelf: true, knn: { method } });
      const recall = recallAtK(found.indices, exact.indices, K);
      t.log(`${method}: recall@${K} ${recall.toFixed(4)}`, JSON.stringify(found.search));
      t.true(recall >= 0.95, `${method} recall ${recall}`);
      t.is(found.search.method, method);
    }
    // The bound discriminates: starved indexes (few links and candidates; one probe) fall well below it.
    for (const knn of [
      { method: 'hnsw' as const, hnsw: { m: 4, efConstruction: 8, efSearch: 10 } },
      { method: 'ivf' as const, ivf: { nprobe: 1 } },
    ]) {
      const found = await kNearest(fixture.x, D, K, { excludeSelf: true, knn });
      const recall = recallAtK(found.indices, exact.indices, K);
      t.true(recall < 0.9, `${JSON.stringify(knn)}: recall ${recall}`);
    }
  },
);

approx(
  'excludeSelf: no row is its own neighbour, k distinct valid rows each; without it the row is found',
  async (t) => {
    const n = fixture.y.length;
    for (const method of ['hnsw', 'ivf'] as const) {
      const { indices } = await kNearest(fixture.x, D, K, { excludeSelf: true, knn: { method } });
      let selfHits = 0;
      let bad = 0;
      for (let q = 0; q < n; q++) {
        const row = indices.subarray(q * K, q * K + K);
        if (row.includes(q)) selfHits++;
        if (new Set(row).size !== K || row.some((r) => r < 0 || r >= n)) bad++;
      }
      t.is(selfHits, 0, method);
      t.is(bad, 0, method);
      // The same search without exclusion finds (nearly) every row as its own nearest neighbour.
      const plain = await kNearest(fixture.x, D, K, { knn: { method } });
      let first = 0;
      for (let q = 0; q < n; q++) if (plain.indices[q * K] === q) first++;
      t.true(first / n > 0.99, `${method}: ${first} of ${n} rows first in their own list`);
    }
  },
);

approx(
  'same seed, same result, bitwise, for 1 and 2 threads; a tile smaller than N gives the one-tile answer',
  async (t) => {
    for (const knn of [{ method: 'hnsw' as const }, { method: 'ivf' as const }]) {
      const a = await kNearestRecorded(fixture.x, D, K, {
        excludeSelf: true,
        knn: { ...knn, seed: 7 },
        threads: 1,
      });
      const b = await kNearestRecorded(fixture.x, D, K, {
        excludeSelf: true,
        knn: { ...knn, seed: 7 },
        threads: 2,
      });
      t.deepEqual(a.indices, b.indices, `${knn.method}: indices, 1 vs 2 threads`);
      t.deepEqual(a.distances, b.distances, `${knn.method}: distances, 1 vs 2 threads`);
      t.deepEqual(a.search, b.search);
      // Tiles of 1,000 queries (6 tiles) against one tile of all 6,000: the index is the same, each query's search too.
      const tiled = await native().approxKnnSearch(fixture.x, null, D, K, {
        ...resolvedFor(knn.method, 7),
        excludeSelf: true,
        tileRows: 1000,
      });
      const whole = await native().approxKnnSearch(fixture.x, null, D, K, {
        ...resolvedFor(knn.method, 7),
        excludeSelf: true,
        tileRows: fixture.y.length,
      });
      t.is(tiled.stats.tiles, 6);
      t.is(whole.stats.tiles, 1);
      t.deepEqual(tiled.indices, whole.indices, `${knn.method}: tiled vs one tile`);
      t.deepEqual(tiled.distances, whole.distances);
      t.deepEqual(
        tiled.indices,
        a.indices,
        `${knn.method}: the binding with the resolved defaults is kNearest`,
      );
    }
  },
);

function resolvedFor(method: 'ivf' | 'hnsw', seed: number) {
  const r = resolveKnn({ method }, fixture.y.length, seed, native().info());
  if (r.method === 'exact') throw new Error('resolved to exact');
  return r;
}

approx('a different seed gives a different ivf index (the seed reaches k-means)', async (t) => {
  const x = clustered(3000, D, 30, 3, 2).x;
  const options = { excludeSelf: true, tileRows: 3000 };
  const ivf = (seed: number) => ({ method: 'ivf' as const, seed, ivf: { nlist: 60, nprobe: 1 } });
  const a = await native().approxKnnSearch(x, null, D, K, { ...ivf(1), ...options });
  const b = await native().approxKnnSearch(x, null, D, K, { ...ivf(2), ...options });
  t.notDeepEqual(a.indices, b.indices);
});

approx(
  'queries the index leaves short of k rows are answered exactly (one list per row, one probe)',
  async (t) => {
    // nlist = N puts every row in its own list; probing one list finds only the query itself, which
    // excludeSelf drops: every query falls back to the exact search.
    const x = clustered(300, D, 10, 2, 3).x;
    const r = await native().approxKnnSearch(x, null, D, 3, {
      method: 'ivf',
      seed: 0,
      excludeSelf: true,
      ivf: { nlist: 300, nprobe: 1 },
    });
    const exact = native().knnSearchSync(x, null, D, 3, { excludeSelf: true });
    t.is(r.stats.exactFallbackRows, 300);
    t.deepEqual(r.indices, exact.indices);
    t.deepEqual(r.distances, exact.distances);
  },
);

approx('a separate base: queries are rows of it, and every answer is a base row', async (t) => {
  const base = fixture.x;
  const queries = fixture.x.slice(0, 500 * D);
  const exact = native().knnSearchSync(queries, base, D, K);
  const found = await kNearest(queries, D, K, { base, knn: { method: 'hnsw' } });
  t.true(recallAtK(found.indices, exact.indices, K) >= 0.95);
});

approx('an aborted signal rejects the search with AbortError', async (t) => {
  const controller = new AbortController();
  controller.abort();
  const error = await t.throwsAsync(
    kNearest(fixture.x, D, K, { excludeSelf: true, knn: { method: 'hnsw' }, signal: controller.signal }),
  );
  t.is(error?.name, 'AbortError');
});

approx('bad parameters are refused, naming the option', async (t) => {
  const x = fixture.x.subarray(0, 100 * D);
  const search = (options: Parameters<ReturnType<typeof native>['approxKnnSearch']>[4]) =>
    native().approxKnnSearch(x, null, D, 5, options);
  const cases: [Parameters<typeof search>[0], RegExp][] = [
    [{ method: 'ivf', seed: 0, ivf: { nlist: 101, nprobe: 1 } }, /options\.ivf\.nlist must be in \[1, 100\]/],
    [{ method: 'ivf', seed: 0, ivf: { nlist: 10, nprobe: 0 } }, /options\.ivf\.nprobe must be in \[1, 10\]/],
    [{ method: 'ivf', seed: 0, ivf: { nlist: 10, nprobe: 11 } }, /options\.ivf\.nprobe/],
    [
      { method: 'hnsw', seed: 0, hnsw: { m: 1, efConstruction: 40, efSearch: 64 } },
      /options\.hnsw\.m must be in \[2,/,
    ],
    [
      { method: 'hnsw', seed: 0, hnsw: { m: 8, efConstruction: 0, efSearch: 64 } },
      /options\.hnsw\.efConstruction/,
    ],
    [{ method: 'hnsw', seed: 0, hnsw: { m: 8, efConstruction: 8, efSearch: 0 } }, /options\.hnsw\.efSearch/],
    [{ method: 'hnsw', seed: -1, hnsw: { m: 8, efConstruction: 8, efSearch: 8 } }, /options\.seed/],
    [
      { method: 'hnsw', seed: 0, tileRows: 0, hnsw: { m: 8, efConstruction: 8, efSearch: 8 } },
      /options\.tileRows/,
    ],
  ];
  for (const [options, message] of cases)
    t.throws(() => search(options), { message }, JSON.stringify(options));
  t.throws(() => search({ method: 'flat', seed: 0 } as never), {
    instanceOf: TypeError,
    message: /options\.method/,
  });
  t.throws(() => search({ method: 'ivf', seed: 0 } as never), {
    instanceOf: TypeError,
    message: /options\.ivf must be an object/,
  });
  // A non-finite value is found on the worker thread: a rejection naming the row.
  const nan = x.slice();
  nan[7 * D + 2] = Number.NaN;
  await t.throwsAsync(
    native().approxKnnSearch(nan, null, D, 5, { method: 'hnsw', seed: 0, hnsw: KNN.hnsw }),
    {
      instanceOf: RangeError,
      message: /row 7 has a non-finite value \(NaN at feature 2\)/,
    },
  );
});

test('the library refuses bad knn options, naming the field', (t) => {
  t.throws(() => validateKnnChoice({ method: 'fast' as never }), {
    message: /knn\.method: expected one of exact, ivf, hnsw, auto/,
  });
  t.throws(() => validateKnnChoice({ method: 'hnsw', hnsw: { m: 1 } }), {
    message: /knn\.hnsw\.m: expected an integer in \[2,/,
  });
  t.throws(() => validateKnnChoice({ method: 'ivf', ivf: { nprobe: 0 } }), { message: /knn\.ivf\.nprobe/ });
  t.throws(() => validateKnnChoice({ method: 'exact', hnsw: { m: 8 } }), { message: /method is 'exact'/ });
  t.throws(() => validateKnnChoice({ method: 'ivf', hnsw: { m: 8 } }), { message: /hnsw parameters given/ });
  t.throws(() => new EOS({ knn: { method: 'hnsw', hnsw: { efSearch: 0 } } }), {
    message: /knn\.hnsw\.efSearch/,
  });
  const withFaiss = { faiss: true, buildSystem: 'cmake-js' };
  t.throws(() => resolveKnn({ method: 'ivf', ivf: { nlist: 11 } }, 10, 0, withFaiss), {
    message: /knn\.ivf\.nlist: 11 lists for 10 base rows/,
  });
  t.throws(() => resolveKnn({ method: 'ivf', ivf: { nlist: 4, nprobe: 5 } }, 10, 0, withFaiss), {
    message: /knn\.ivf\.nprobe/,
  });
});

test('auto: exact up to the threshold, the approximate default beyond; defaults fill every parameter', (t) => {
  const withFaiss = { faiss: true, buildSystem: 'cmake-js' };
  t.deepEqual(resolveKnn({ method: 'auto' }, KNN.autoExactMaxRows, 0, withFaiss), { method: 'exact' });
  const beyond = KNN.autoExactMaxRows + 1;
  t.deepEqual(
    resolveKnn({ method: 'auto' }, beyond, 3, withFaiss),
    resolveKnn({ method: KNN.autoApproximate }, beyond, 3, withFaiss),
  );
  t.like(resolveKnn({ method: 'auto' }, beyond, 3, withFaiss), { method: KNN.autoApproximate, seed: 3 });
  t.deepEqual(resolveKnn({ method: 'hnsw' }, 10, 0, withFaiss), { method: 'hnsw', hnsw: KNN.hnsw, seed: 0 });
  t.deepEqual(resolveKnn({ method: 'ivf' }, 10_000, 0, withFaiss), {
    method: 'ivf',
    ivf: { nlist: 400, nprobe: 16 },
    seed: 0,
  });
  // The probes grow with the lists (one per 128): 4,000 lists at 1e6 rows, 12,649 at 1e7.
  t.like(resolveKnn({ method: 'ivf' }, 1e6, 0, withFaiss), { ivf: { nlist: 4000, nprobe: 31 } });
  t.like(resolveKnn({ method: 'ivf' }, 1e7, 0, withFaiss), { ivf: { nlist: 12_649, nprobe: 99 } });
  t.like(resolveKnn({ method: 'ivf', ivf: { nlist: 10 } }, 1e6, 0, withFaiss), {
    ivf: { nlist: 10, nprobe: 10 },
  });
  t.deepEqual(resolveKnn(undefined, 10, 0, withFaiss), { method: 'exact' });
});

test('a build without libfaiss: ivf and hnsw refused saying so, auto stays exact and says why', (t) => {
  const noFaiss = { faiss: false, buildSystem: 'node-gyp' };
  for (const method of ['ivf', 'hnsw'] as const) {
    t.throws(() => requireKnnSupport({ method }, noFaiss, '--knn'), {
      message: new RegExp(
        `--knn ${method} needs libfaiss, which this build of the addon \\(built by node-gyp\\)`,
      ),
    });
    t.throws(() => resolveKnn({ method }, 1000, 0, noFaiss), { message: /apt-get|libfaiss-dev/ });
  }
  t.notThrows(() => requireKnnSupport({ method: 'auto' }, noFaiss));
  t.notThrows(() => requireKnnSupport(undefined, noFaiss));
  t.deepEqual(resolveKnn({ method: 'auto' }, KNN.autoExactMaxRows + 1, 0, noFaiss), {
    method: 'exact',
    reason: `auto: ${KNN.autoExactMaxRows + 1} rows, but this build has no libfaiss`,
  });
  t.is(typeof native().info().faiss, 'boolean');
});

// The portable node-gyp build (npm run build:gyp) never links libfaiss: its addon says so and refuses.
const gypBuild = resolve(packageRoot, 'build/Release/eos_native.node');
(existsSync(gypBuild) ? test : test.skip)(
  'the node-gyp build has no libfaiss and refuses approxKnnSearch saying so',
  (t) => {
    const { addon } = loadNative([gypBuild]);
    t.false(addon.info().faiss);
    t.is(addon.info().faissVersion, null);
    t.throws(
      () => addon.approxKnnSearch(fixture.x, null, D, K, { method: 'hnsw', seed: 0, hnsw: KNN.hnsw }),
      {
        message:
          /approxKnnSearch: this build of the addon has no libfaiss \(info\(\)\.faiss is false\).*libfaiss-dev/,
      },
    );
  },
);
if (!existsSync(gypBuild))
  console.log(`knn-approx: node-gyp refusal test skipped: ${gypBuild} not built (npm run build:gyp)`);

test("method 'exact' is the exact search, bitwise, and EOS with it is EOS without the option", async (t) => {
  const plain = await kNearest(fixture.x, D, K, { excludeSelf: true });
  const exact = await kNearestRecorded(fixture.x, D, K, { excludeSelf: true, knn: { method: 'exact' } });
  t.deepEqual(exact.indices, plain.indices);
  t.deepEqual(exact.distances, plain.distances);
  t.deepEqual(exact.search, { method: 'exact', queries: 6000, baseRows: 6000, k: K });
  const small = clustered(1200, D, 12, 4, 5);
  const counts = new Map<number, number>();
  // Imbalance it: keep a shrinking share of each class.
  const keep: number[] = [];
  for (let i = 0; i < small.y.length; i++) {
    const label = small.y[i];
    const seen = counts.get(label) ?? 0;
    if (seen < 300 >> label) keep.push(i);
    counts.set(label, seen + 1);
  }
  const x = new Float32Array(keep.length * D);
  for (const [i, row] of keep.entries()) x.set(small.x.subarray(row * D, row * D + D), i * D);
  const y = Int32Array.from(keep, (row) => small.y[row]);
  const without = await new EOS({ seed: 1 }).fitResample(x, y, D);
  const withExact = await new EOS({ seed: 1, knn: { method: 'exact' } }).fitResample(x, y, D);
  t.deepEqual(withExact, without);
  t.is(without.searches?.[0].method, 'exact');
  if (faiss) {
    const withHnsw = await new EOS({ seed: 1, knn: { method: 'hnsw' } }).fitResample(x, y, D);
    t.is(withHnsw.y.length, without.y.length);
    t.like(withHnsw.searches?.[0], { method: 'hnsw', hnsw: KNN.hnsw, seed: 1, k: K + 1 });
  }
});

test('recallAtK: shared rows over k, order ignored; mismatched tables refused', (t) => {
  const exact = Int32Array.from([1, 2, 3, 4, 5, 6]);
  t.is(recallAtK(Int32Array.from([3, 2, 1, 4, 5, 6]), exact, 3), 1);
  t.is(recallAtK(Int32Array.from([1, 9, 8, 6, 5, 4]), exact, 3), 4 / 6);
  t.throws(() => recallAtK(new Int32Array(3), exact, 3), { message: /same non-empty/ });
  t.throws(() => recallAtK(exact, exact, 0), { message: /k: expected an integer >= 1/ });
});

test('--knn: methods and their parameters parsed; bad values refused naming the flag', (t) => {
  const parse = knnChoice('--knn');
  t.deepEqual(parse('exact'), { method: 'exact' });
  t.deepEqual(parse('auto'), { method: 'auto' });
  t.deepEqual(parse('hnsw:m=16,efSearch=128'), { method: 'hnsw', hnsw: { m: 16, efSearch: 128 } });
  t.deepEqual(parse('ivf:nlist=1024,nprobe=32'), { method: 'ivf', ivf: { nlist: 1024, nprobe: 32 } });
  const refused: [string, RegExp][] = [
    ['fast', /--knn must be one of exact, ivf, hnsw, auto/],
    ['hnsw:m=16:x', /--knn must be one of/],
    ['exact:m=3', /--knn: exact takes no parameters/],
    ['hnsw:nlist=3', /--knn: hnsw takes m, efConstruction, efSearch as name=value, got 'nlist=3'/],
    ['hnsw:m=1', /--knn hnsw m must be a decimal integer in \[2,/],
    ['ivf:nprobe=0', /--knn ivf nprobe must be a decimal integer >= 1/],
    ['ivf:nlist=8,nlist=9', /nlist is given twice/],
    ['ivf:nlist', /ivf takes nlist, nprobe as name=value/],
  ];
  for (const [value, message] of refused)
    t.throws(() => parse(value), { instanceOf: InvalidArgumentError, message }, value);
});

test('eos run --knn with a bad value exits 1 with the message, before any work', async (t) => {
  const eos = resolve(packageRoot, 'dist/lib/cli/eos.js');
  const r = await new Promise<{ code: number | null; stderr: string }>((done) => {
    execFile(process.execPath, [eos, 'run', '--knn', 'kdtree'], { timeout: 60_000 }, (error, _out, stderr) =>
      done({ code: error ? ((error as { code?: number }).code ?? null) : 0, stderr }),
    );
  });
  t.is(r.code, 1);
  t.regex(r.stderr, /--knn must be one of exact, ivf, hnsw, auto/);
});

approx('ivf probing every list is the exact search: the same rows, the same distances', async (t) => {
  // The scan searches each probed list with the exact kernel and merges by (distance, row): with every list
  // probed nothing is approximate, so any slip in the grouping, the merge or the row numbering shows here.
  const { x } = clustered(3000, D, 30, 3, 7);
  const ivf = { method: 'ivf' as const, seed: 3, ivf: { nlist: 40, nprobe: 40 }, threads: 2 };
  const self = await native().approxKnnSearch(x, null, D, K, { ...ivf, excludeSelf: true });
  const exactSelf = await native().knnSearch(x, null, D, K, { excludeSelf: true });
  t.deepEqual(Array.from(self.indices), Array.from(exactSelf.indices));
  t.deepEqual(Array.from(self.distances), Array.from(exactSelf.distances));
  const queries = x.subarray(0, 500 * D);
  const base = x.subarray(500 * D);
  const sep = await native().approxKnnSearch(queries, base, D, K, { ...ivf, tileRows: 97 });
  const exactSep = await native().knnSearch(queries, base, D, K, {});
  t.deepEqual(Array.from(sep.indices), Array.from(exactSep.indices));
  t.deepEqual(Array.from(sep.distances), Array.from(exactSep.distances));
  t.is(sep.stats.tiles, Math.ceil(500 / 97));
});

approx(
  'hnsw ranks by float32 sums in eight lanes, summed in a fixed tree: the same float on any CPU',
  async (t) => {
    // The JavaScript below is the contract of l2_lanes (native/knn/approx_knn.cc), rounded to float32 at
    // every step as the native code is; a d that is not a multiple of 8 exercises the tail.
    const f = Math.fround;
    const lanes = (x: Float32Array, d: number, i: number, j: number) => {
      const acc = new Array<number>(8).fill(0);
      for (let c = 0; c < d; c++) {
        const diff = f(x[i * d + c] - x[j * d + c]);
        acc[c % 8] = f(acc[c % 8] + f(diff * diff));
      }
      return f(f(f(acc[0] + acc[4]) + f(acc[2] + acc[6])) + f(f(acc[1] + acc[5]) + f(acc[3] + acc[7])));
    };
    for (const d of [16, 13]) {
      const { x } = clustered(800, d, 8, 2, 11);
      const found = await native().approxKnnSearch(x, null, d, K, {
        method: 'hnsw',
        seed: 0,
        hnsw: { m: 16, efConstruction: 40, efSearch: 64 },
        excludeSelf: true,
      });
      let mismatches = 0;
      for (let q = 0; q < 800; q++)
        for (let j = 0; j < K; j++) {
          const row = found.indices[q * K + j];
          if (found.distances[q * K + j] !== lanes(x, d, q, row)) mismatches++;
        }
      t.is(mismatches, 0, `d = ${d}`);
    }
  },
);

approx('ivf searches in tiles whose candidates fit 128 MB, however many lists are probed', async (t) => {
  // Memory of the search is the index plus one tile: a tile of q queries holds q x nprobe x (k + 1)
  // candidates of 8 bytes, so the tile shrinks as nprobe grows (to at least 1,024 queries).
  const cap = 2 ** 27;
  const { x } = clustered(3000, D, 30, 3, 5);
  const many = await native().approxKnnSearch(x, null, D, K, {
    method: 'ivf',
    seed: 0,
    ivf: { nlist: 1500, nprobe: 1500 },
    excludeSelf: true,
  });
  t.is(many.stats.tileRows, 1024); // 2^27 / (1500 x 11 x 8) = 1016, raised to the floor of 1,024
  t.is(many.stats.tiles, 3);
  const exact = await native().knnSearch(x, null, D, K, { excludeSelf: true });
  t.deepEqual(Array.from(many.indices), Array.from(exact.indices)); // every list probed, over three tiles
  const few = await native().approxKnnSearch(x, null, D, K, {
    method: 'ivf',
    seed: 0,
    ivf: { nlist: 100, nprobe: 16 },
    excludeSelf: true,
  });
  t.true(few.stats.tileRows * 16 * (K + 1) * 8 <= cap);
  t.true((few.stats.tileRows + 1) * 16 * (K + 1) * 8 > cap);
  t.is(few.stats.tiles, 1);
});
