// npm run bench:knn-approx -- approximate nearest neighbours (libfaiss IVF-Flat and HNSW-Flat through the addon,
// native/knn/approx_knn.h, with the defaults of lib/defaults.ts KNN) against the exact search (native/knn) and
// faiss's own exact search (IndexFlatL2, python3-faiss), on seeded synthetic embeddings with class structure:
// d = 64, 10 classes of 10 clusters each, cluster centres N(0, 2^2) per feature, rows a centre plus N(0, 1)
// noise, each row's cluster drawn at random. Self-search with the row itself excluded, k = 10 (EOS's).
// Prints, per N: build and search seconds of ivf and hnsw, the exact search's seconds, faiss's, recall@10 of each
// approximate search against the exact one, the distance ratio (how much farther the neighbours found are than
// the exact ones: the mean over rows of their summed distances, found / exact), peak memory beyond the input, and
// the machine's ISA; writes bench/out/knn-approx.json.
//
// Each search runs in its own process (this file with --child, or bench/peers/knn_peers.py), so that peak RSS
// is per search. The exact search runs in full up to --exact-max rows (default 100,000; it is quadratic: 8 s
// at 1e5 on 2 AVX512-BF16 cores, at most 634 s at 1e6); above that it is NOT run in full: its time is
// extrapolated from the first --sample rows searched against all N (N / sample x that time, an upper bound, since
// the full self-search computes each pair once), and recall is measured on those rows. Likewise above
// --approx-max rows (default 1,000,000) an approximate index is built on all N rows (build seconds measured) but
// searched for the first --approx-sample rows only (default 131,072: at least one full query tile, whose
// batching per list is what a full search gets), its search seconds extrapolated by N / approx-sample. faiss's IndexFlatL2 is
// always timed on its own sample (--faiss-sample, default --sample) and extrapolated the same way: Debian's faiss
// links the reference BLAS, with which its full search at 1e5 takes over ten minutes on 2 cores.
//
// Options: --sizes=1e5,1e6 (default; any of 1e5, 1e6, 1e7: 2.5 GB of input and as much again per index;
// --with-1e7 adds it), --methods=ivf,hnsw (default both, hnsw only up to 1e6 rows), --ivf=nprobe=64,nlist=N and
// --hnsw=m=32,efSearch=256,... (parameters over lib/defaults.ts's, as --knn takes them), --threads=N (default 2),
// --exact-max=N, --approx-max=N, --sample=N (default 2,000), --approx-sample=N, --faiss-sample=N.
// Figures are wall-clock on a shared machine: compare the ratios of one run, not absolute seconds.

import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { knnChoice } from '../lib/cli/option-parsers.js';
import { KNN } from '../lib/defaults.js';
import { recallAtK } from '../lib/metrics/knn-recall.js';
import { native } from '../lib/native.js';
import { type KnnChoice, resolveKnn } from '../lib/resample/knn-method.js';
import {
  type Outcome,
  option,
  type Run,
  readIndices,
  seededNormal,
  seededUniform,
  spawnJson,
} from './knn-helpers.js';

const K = 10;
const D = 64;
const CLASSES = 10;
const CLUSTERS_PER_CLASS = 10;
const CENTRE_SPREAD = 2;
const SEED = 0;
const MIB = 1 << 20;
const METHODS = ['ivf', 'hnsw'] as const;
// Above this many rows hnsw runs only when --methods names it: its graph is built on one thread (for
// reproducibility), 1038 s at 1e6 on 2 Zen 4 cores, and the build cannot be sampled as the search can.
const HNSW_DEFAULT_MAX = 1e6;
type Method = (typeof METHODS)[number];

const root = fileURLToPath(new URL('../../', import.meta.url));
const outDir = `${root}bench/out`;

interface ApproxRun extends Run {
  buildSeconds: number;
  searchSeconds: number;
  parameters: unknown;
  exactFallbackRows: number;
}

/** Rows with class structure (see the header): N x D float32 and each row's class. */
function classStructuredRows(n: number, seed: number): { x: Float32Array; labels: Int32Array } {
  const normal = seededNormal(seed);
  const pick = seededUniform(seed + 1);
  const clusters = CLASSES * CLUSTERS_PER_CLASS;
  const centres = Float32Array.from({ length: clusters * D }, () => CENTRE_SPREAD * normal());
  const x = new Float32Array(n * D);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = Math.floor(pick() * clusters);
    labels[i] = c % CLASSES;
    for (let j = 0; j < D; j++) x[i * D + j] = centres[c * D + j] + normal();
  }
  return { x, labels };
}

/** `count` float32 values from `path`, read in pieces (readFileSync stops at 2 GiB; 1e7 rows are 2.5 GB). */
function readRows(path: string, count: number): Float32Array {
  const x = new Float32Array(count);
  const bytes = new Uint8Array(x.buffer);
  const fd = openSync(path, 'r');
  try {
    for (let at = 0; at < bytes.length; ) {
      const got = readSync(fd, bytes, at, Math.min(1 << 30, bytes.length - at), at);
      if (got === 0) throw new Error(`${path}: ${at} bytes, expected ${bytes.length}`);
      at += got;
    }
  } finally {
    closeSync(fd);
  }
  return x;
}

/** `x` to `path` in pieces (writeFileSync stops at 2 GiB too). */
function writeRows(path: string, x: Float32Array): void {
  const bytes = new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
  const fd = openSync(path, 'w');
  try {
    for (let at = 0; at < bytes.length; )
      at += writeSync(fd, bytes, at, Math.min(1 << 30, bytes.length - at), at);
  } finally {
    closeSync(fd);
  }
}

/** Row i's K nearest among the K + 1 found for row i of a sampled search, the row itself dropped (the last one
 * when duplicates outrank it). */
function dropSelf(found: Int32Array, q: number): Int32Array {
  const indices = new Int32Array(q * K);
  for (let i = 0; i < q; i++) {
    const row = Array.from(found.subarray(i * (K + 1), (i + 1) * (K + 1)));
    const self = row.indexOf(i);
    row.splice(self >= 0 ? self : K, 1);
    indices.set(row, i * K);
  }
  return indices;
}

/**
 * Child mode: one search, reported as JSON on stdout; its indices (queries x K) to OUT.
 * args: METHOD DATA N THREADS OUT QUERIES CHOICE; METHOD exact, ivf or hnsw; QUERIES 'all' (every row, itself
 * excluded) or a count q (the first q rows against all N: the index is still built on all N); CHOICE the
 * approximate method's parameters as JSON (a KnnChoice; lib/defaults.ts fills in the rest for N rows).
 */
async function child(args: string[]): Promise<void> {
  const [method, path, nArg, threadsArg, outPath, queriesArg, choiceArg] = args;
  const n = Number(nArg);
  const threads = Number(threadsArg);
  const q = queriesArg === 'all' ? null : Number(queriesArg);
  const x = readRows(path, n * D);
  const queries = q === null ? x : x.subarray(0, q * D);
  const base = q === null ? null : x;
  const k = q === null ? K : K + 1;
  const rssBefore = process.memoryUsage().rss;
  const start = performance.now();
  if (method === 'exact') {
    const found = await native().knnSearch(queries, base, D, k, { excludeSelf: q === null, threads });
    const seconds = (performance.now() - start) / 1000;
    writeFileSync(outPath, q === null ? found.indices : dropSelf(found.indices, q));
    const run: Run = { seconds, rssBefore, peakRss: process.resourceUsage().maxRSS * 1024 };
    process.stdout.write(JSON.stringify(run));
    return;
  }
  const choice = JSON.parse(choiceArg) as KnnChoice;
  const resolved = resolveKnn({ ...choice, method: method as Method }, n, SEED, native().info());
  if (resolved.method === 'exact') throw new Error(`${method} resolved to the exact search`);
  const found = await native().approxKnnSearch(queries, base, D, k, {
    ...resolved,
    excludeSelf: q === null,
    threads,
  });
  const seconds = (performance.now() - start) / 1000;
  writeFileSync(outPath, q === null ? found.indices : dropSelf(found.indices, q));
  const { stats } = found;
  const run: ApproxRun = {
    seconds,
    rssBefore,
    peakRss: process.resourceUsage().maxRSS * 1024,
    buildSeconds: stats.buildSeconds,
    searchSeconds: stats.searchSeconds,
    parameters: stats.ivf ?? stats.hnsw,
    exactFallbackRows: stats.exactFallbackRows,
  };
  process.stdout.write(JSON.stringify(run));
}

function parseSizes(): number[] {
  const sizes = option('sizes', '1e5,1e6')
    .split(',')
    .map((s) => Number(s));
  for (const n of sizes) {
    if (n !== 1e5 && n !== 1e6 && n !== 1e7)
      throw new RangeError(`--sizes: expected any of 1e5, 1e6, 1e7, got ${n}`);
  }
  if (process.argv.includes('--with-1e7') && !sizes.includes(1e7)) sizes.push(1e7);
  return sizes;
}

/** --methods=ivf,hnsw, or null when not given (then: both, hnsw only up to HNSW_DEFAULT_MAX rows). */
function parseMethods(): Method[] | null {
  const given = option('methods', '');
  if (given === '') return null;
  const methods = given.split(',');
  for (const m of methods) {
    if (!(METHODS as readonly string[]).includes(m))
      throw new RangeError(`--methods: expected ivf and/or hnsw, got ${m}`);
  }
  return methods as Method[];
}

/** --ivf=nprobe=64 / --hnsw=efSearch=256: parameters over lib/defaults.ts's, parsed as --knn's (CLI). */
function parseChoice(method: Method): KnnChoice {
  const given = option(method, '');
  if (given === '') return {};
  try {
    return knnChoice(`--${method}`)(`${method}:${given}`);
  } catch (error) {
    throw new RangeError((error as Error).message);
  }
}

/**
 * Mean over the rows of (sum of the distances to the approximate neighbours) / (the same for the exact ones):
 * how much farther the neighbours found are, which recall alone does not say (in a cloud of near-equidistant
 * points a missed neighbour is replaced by one almost as near). Rows whose exact neighbours all coincide with
 * them (distance 0) are left out.
 */
function distanceRatio(x: Float32Array, approx: Int32Array, exact: Int32Array, rows: number): number {
  const dist = (i: number, j: number) => {
    let s = 0;
    for (let c = 0; c < D; c++) {
      const t = x[i * D + c] - x[j * D + c];
      s += t * t;
    }
    return Math.sqrt(s);
  };
  let total = 0;
  let counted = 0;
  for (let i = 0; i < rows; i++) {
    let a = 0;
    let e = 0;
    for (let j = 0; j < K; j++) {
      a += dist(i, approx[i * K + j]);
      e += dist(i, exact[i * K + j]);
    }
    if (e > 0) {
      total += a / e;
      counted++;
    }
  }
  return total / counted;
}

function positiveInteger(name: string, fallback: string): number {
  const v = Number(option(name, fallback));
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`--${name}: expected an integer >= 1`);
  return v;
}

async function main(): Promise<void> {
  const childAt = process.argv.indexOf('--child');
  if (childAt >= 0) return child(process.argv.slice(childAt + 1));

  const sizes = parseSizes();
  const threads = positiveInteger('threads', '2');
  const exactMax = positiveInteger('exact-max', '100000');
  const sample = positiveInteger('sample', '2000');
  const approxMax = positiveInteger('approx-max', '1000000');
  const faissSample = positiveInteger('faiss-sample', String(sample));
  const approxSample = positiveInteger('approx-sample', String(1 << 17));
  const methodsGiven = parseMethods();
  const choices = { ivf: parseChoice('ivf'), hnsw: parseChoice('hnsw') };
  const info = native().info();
  if (!info.faiss)
    throw new Error('this addon has no libfaiss (eos info): apt-get install libfaiss-dev, rebuild');
  const peerEnv = { ...process.env };
  delete peerEnv.OPENBLAS_CORETYPE; // as bench/knn.ts: the machine-wide setting is for our own processes
  const self = fileURLToPath(import.meta.url);
  const tmp = mkdtempSync(join(os.tmpdir(), 'eos-knn-approx-'));
  const report: Record<string, unknown> = {};
  const table: string[][] = [];
  const extra = (r: Outcome) => ('error' in r ? '-' : ((r.peakRss - r.rssBefore) / MIB).toFixed(0));
  try {
    for (const n of sizes) {
      const name = `N=${n.toExponential(0).replace('+', '')}`;
      console.log(`${name}: generating ${n} x ${D} rows...`);
      const data = join(tmp, 'x.f32');
      const { x } = classStructuredRows(n, SEED);
      writeRows(data, x);
      const q = Math.min(sample, n);
      const full = n <= exactMax;
      console.log(`${name}: exact (${full ? 'every row' : `${q} sampled rows, extrapolated`})...`);
      const exact = spawnJson(
        process.execPath,
        [
          self,
          '--child',
          'exact',
          data,
          String(n),
          String(threads),
          join(tmp, 'exact.i32'),
          full ? 'all' : String(q),
          '{}',
        ],
        process.env,
      );
      const exactIdx = readIndices(join(tmp, 'exact.i32'));
      const exactSeconds = 'error' in exact ? null : full ? exact.seconds : (exact.seconds * n) / q;
      const qf = Math.min(faissSample, n);
      console.log(`${name}: faiss IndexFlatL2 (${qf} sampled rows, extrapolated)...`);
      const faiss = spawnJson(
        '/usr/bin/python3',
        [
          `${root}bench/peers/knn_peers.py`,
          'faiss',
          data,
          String(n),
          String(D),
          String(K + 1),
          '1',
          String(threads),
          join(tmp, 'faiss.i32'),
          String(qf),
        ],
        peerEnv,
      );
      const faissSeconds = 'error' in faiss ? null : (faiss.seconds * n) / qf;
      const perMethod: Record<string, unknown> = {};
      const methods = methodsGiven ?? METHODS.filter((m) => m !== 'hnsw' || n <= HNSW_DEFAULT_MAX);
      if (!methods.includes('hnsw'))
        console.log(`${name}: hnsw not run (its build is single-threaded; --methods=ivf,hnsw runs it)`);
      for (const method of methods) {
        // Up to --approx-max rows every row is searched; above, the index is built on all N and only the
        // sampled rows are searched, the search time extrapolated as the exact search's.
        const searchAll = n <= approxMax;
        const qa = Math.min(approxSample, n);
        console.log(
          `${name}: ${method}${searchAll ? '' : ` (${qa} sampled queries, search extrapolated)`}...`,
        );
        const r = spawnJson(
          process.execPath,
          [
            self,
            '--child',
            method,
            data,
            String(n),
            String(threads),
            join(tmp, `${method}.i32`),
            searchAll ? 'all' : String(qa),
            JSON.stringify(choices[method]),
          ],
          process.env,
        );
        const idx = readIndices(join(tmp, `${method}.i32`));
        // Recall over every row when the exact table is complete, else over the sampled (first q) rows.
        const rows = full && searchAll ? n : Math.min(q, qa);
        const ok = !('error' in r) && exactIdx !== null && idx !== null;
        const recall = ok ? recallAtK(idx.subarray(0, rows * K), exactIdx.subarray(0, rows * K), K) : null;
        const ratio = ok ? distanceRatio(x, idx, exactIdx, rows) : null;
        const a = r as ApproxRun;
        const searchSeconds = 'error' in r ? null : searchAll ? a.searchSeconds : (a.searchSeconds * n) / qa;
        const totalSeconds = 'error' in r ? null : a.buildSeconds + (searchSeconds ?? 0);
        perMethod[method] = {
          ...r,
          searchRun: searchAll ? 'every row' : `not run in full: ${qa} sampled rows against all N`,
          searchSecondsForAllRows: searchSeconds,
          secondsForAllRows: totalSeconds,
          recallAt10: recall,
          distanceRatio: ratio,
          recallOver: rows === n ? 'every row' : `${rows} sampled rows`,
          extraMiB: 'error' in r ? null : (r.peakRss - r.rssBefore) / MIB,
        };
        if ('error' in r) console.log(`  ${method} failed: ${r.error}`);
        const extrap = searchAll ? '' : ' (extrap.)';
        table.push([
          name,
          method,
          'error' in r ? '-' : JSON.stringify(a.parameters).replace(/"/g, ''),
          'error' in r ? '-' : a.buildSeconds.toFixed(1),
          searchSeconds === null ? '-' : `${searchSeconds.toFixed(1)}${extrap}`,
          totalSeconds === null ? '-' : `${totalSeconds.toFixed(1)}${extrap}`,
          recall === null ? '-' : recall.toFixed(4),
          ratio === null ? '-' : ratio.toFixed(4),
          extra(r),
          exactSeconds === null ? '-' : `${exactSeconds.toFixed(0)}${full ? '' : ' (extrap.)'}`,
          faissSeconds === null ? '-' : `${faissSeconds.toFixed(0)} (extrap.)`,
          exactSeconds === null || totalSeconds === null
            ? '-'
            : `${(exactSeconds / totalSeconds).toFixed(1)}x`,
        ]);
      }
      for (const [peer, r] of [
        ['exact', exact],
        ['faiss', faiss],
      ] as const) {
        if ('error' in r) console.log(`  ${peer} failed: ${r.error}`);
      }
      report[name] = {
        n,
        d: D,
        k: K,
        inputMiB: (n * D * 4) / MIB,
        exact: {
          ...exact,
          run: full ? 'every row' : `not run in full: ${q} sampled rows against all N`,
          secondsForAllRows: exactSeconds,
          extrapolated: !full,
        },
        faissIndexFlatL2: {
          ...faiss,
          run: `${qf} sampled rows against all N`,
          secondsForAllRows: faissSeconds,
          extrapolated: true,
        },
        methods: perMethod,
      };
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }

  const header = [
    'case',
    'method',
    'parameters',
    'build s',
    'search s',
    'total s',
    'recall@10',
    'dist ratio',
    'extra MiB',
    'exact s',
    'faiss flat s',
    'exact/total',
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i].length)));
  const line = (row: string[]) =>
    row.map((v, i) => (i < 3 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ');
  console.log(
    `\napproximate self-kNN, k = ${K}, d = ${D}, ${CLASSES} classes x ${CLUSTERS_PER_CLASS} clusters, ${threads} threads, ` +
      `${os.cpus()[0]?.model ?? 'unknown CPU'} (ISA ${info.cpuIsaDetected}), faiss ${info.faissVersion}; ` +
      `exact s above ${exactMax.toLocaleString('en-US')} rows and the approximate search s above ` +
      `${approxMax.toLocaleString('en-US')} rows are extrapolated from ${sample} and ${approxSample} rows, faiss flat s always (from ${faissSample}); ` +
      'dist ratio = mean sum of distances to the neighbours found / to the exact ones; ' +
      'extra = peak RSS - RSS with the input loaded',
  );
  console.log(line(header));
  for (const row of table) console.log(line(row));

  mkdirSync(outDir, { recursive: true });
  const file = {
    date: new Date().toISOString(),
    machine: {
      cpus: os.cpus().length,
      model: os.cpus()[0]?.model ?? 'unknown',
      isa: info.cpuIsaDetected,
      node: process.version,
      faiss: info.faissVersion,
    },
    threads,
    defaults: KNN,
    data: { classes: CLASSES, clustersPerClass: CLUSTERS_PER_CLASS, centreSpread: CENTRE_SPREAD, seed: SEED },
    cases: report,
  };
  writeFileSync(`${outDir}/knn-approx.json`, `${JSON.stringify(file, null, 2)}\n`);
  console.log(`\nwrote ${outDir}/knn-approx.json`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
