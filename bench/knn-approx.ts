// npm run bench:knn-approx -- approximate nearest neighbours (libfaiss IVF-Flat and HNSW-Flat through the addon,
// native/knn/approx_knn.h, with the defaults of lib/defaults.ts KNN) against the exact search (native/knn) and
// faiss's own exact search (IndexFlatL2, python3-faiss), on seeded synthetic embeddings with class structure:
// d = 64, 10 classes of 10 clusters each, cluster centres N(0, 2^2) per feature, rows a centre plus N(0, 1)
// noise, each row's cluster drawn at random. Self-search with the row itself excluded, k = 10 (EOS's).
// Prints, per N: build and search seconds of ivf and hnsw, the exact search's seconds, faiss's, recall@10 of each
// approximate search against the exact one, peak memory beyond the input, and the machine's ISA; writes
// bench/out/knn-approx.json.
//
// Each search runs in its own process (this file with --child, or bench/peers/knn_peers.py), so that peak RSS
// is per search. The exact search runs in full up to --exact-max rows (default 100,000; it is quadratic: 8 s
// at 1e5 on 2 AVX512-BF16 cores, so about 15 minutes at 1e6); above that it is NOT run in full: its time is
// extrapolated from the first --sample rows searched against all N (N / sample x that time, an upper bound, since
// the full self-search computes each pair once), and recall is measured on those rows. faiss's IndexFlatL2 is
// always timed on the sample and extrapolated the same way: Debian's faiss links the reference BLAS, with which
// its full search at 1e5 takes over ten minutes on 2 cores.
//
// Options: --sizes=1e5,1e6 (default; any of 1e5, 1e6), --with-1e7 (adds N = 1e7: 2.5 GB of input, and about as
// much again per index; hours on 2 cores), --threads=N (default 2), --exact-max=N, --sample=N (default 2,000).
// Figures are wall-clock on a shared machine: compare the ratios of one run, not absolute seconds.

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KNN } from '../lib/defaults.js';
import { recallAtK } from '../lib/metrics/knn-recall.js';
import { native } from '../lib/native.js';
import { resolveKnn } from '../lib/resample/knn-method.js';
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

/**
 * Child mode: one search, reported as JSON on stdout; its indices (queries x K) to OUT.
 * args: METHOD DATA N THREADS OUT [QUERIES]; METHOD exact (QUERIES: only the first QUERIES rows, against all N)
 * or ivf / hnsw (every row, with lib/defaults.ts's parameters for N rows).
 */
async function child(args: string[]): Promise<void> {
  const [method, path, nArg, threadsArg, outPath, queriesArg] = args;
  const n = Number(nArg);
  const threads = Number(threadsArg);
  const bytes = readFileSync(path);
  const x = new Float32Array(bytes.buffer, bytes.byteOffset, n * D);
  const rssBefore = process.memoryUsage().rss;
  const start = performance.now();
  if (method === 'exact') {
    let indices: Int32Array;
    if (queriesArg === undefined) {
      indices = (await native().knnSearch(x, null, D, K, { excludeSelf: true, threads })).indices;
    } else {
      // The sampled rows among all N: K + 1 found, the row itself dropped (the last one when duplicates outrank it).
      const q = Number(queriesArg);
      const found = await native().knnSearch(x.subarray(0, q * D), x, D, K + 1, { threads });
      indices = new Int32Array(q * K);
      for (let i = 0; i < q; i++) {
        const row = Array.from(found.indices.subarray(i * (K + 1), (i + 1) * (K + 1)));
        const self = row.indexOf(i);
        row.splice(self >= 0 ? self : K, 1);
        indices.set(row, i * K);
      }
    }
    const seconds = (performance.now() - start) / 1000;
    writeFileSync(outPath, indices);
    const run: Run = { seconds, rssBefore, peakRss: process.resourceUsage().maxRSS * 1024 };
    process.stdout.write(JSON.stringify(run));
    return;
  }
  const resolved = resolveKnn({ method: method as Method }, n, SEED, native().info());
  if (resolved.method === 'exact') throw new Error(`${method} resolved to the exact search`);
  const { indices, stats } = await native().approxKnnSearch(x, null, D, K, {
    ...resolved,
    excludeSelf: true,
    threads,
  });
  const seconds = (performance.now() - start) / 1000;
  writeFileSync(outPath, indices);
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
    if (n !== 1e5 && n !== 1e6)
      throw new RangeError(`--sizes: expected 1e5 and/or 1e6 (1e7: --with-1e7), got ${n}`);
  }
  if (process.argv.includes('--with-1e7')) sizes.push(1e7);
  return sizes;
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
  const info = native().info();
  if (!info.faiss)
    throw new Error('this addon has no libfaiss (eos info): apt-get install libfaiss-dev, rebuild');
  const peerEnv = { ...process.env };
  delete peerEnv.OPENBLAS_CORETYPE; // as bench/knn.ts: the machine-wide setting is for our own processes
  const self = fileURLToPath(import.meta.url);
  const tmp = mkdtempSync(join(os.tmpdir(), 'eos-knn-approx-'));
  const report: Record<string, unknown> = {};
  const table: string[][] = [];
  const sec = (r: Outcome | null) => (r === null ? '-' : 'error' in r ? 'error' : r.seconds.toFixed(1));
  const extra = (r: Outcome) => ('error' in r ? '-' : ((r.peakRss - r.rssBefore) / MIB).toFixed(0));
  try {
    for (const n of sizes) {
      const name = `N=${n.toExponential(0).replace('+', '')}`;
      console.log(`${name}: generating ${n} x ${D} rows...`);
      const data = join(tmp, 'x.f32');
      writeFileSync(data, classStructuredRows(n, SEED).x);
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
          ...(full ? [] : [String(q)]),
        ],
        process.env,
      );
      const exactIdx = readIndices(join(tmp, 'exact.i32'));
      const exactSeconds = 'error' in exact ? null : full ? exact.seconds : (exact.seconds * n) / q;
      console.log(`${name}: faiss IndexFlatL2 (${q} sampled rows, extrapolated)...`);
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
          String(q),
        ],
        peerEnv,
      );
      const faissSeconds = 'error' in faiss ? null : (faiss.seconds * n) / q;
      const perMethod: Record<string, unknown> = {};
      for (const method of METHODS) {
        console.log(`${name}: ${method}...`);
        const r = spawnJson(
          process.execPath,
          [self, '--child', method, data, String(n), String(threads), join(tmp, `${method}.i32`)],
          process.env,
        );
        const idx = readIndices(join(tmp, `${method}.i32`));
        // Recall over every row when the exact table is complete, else over the sampled (first q) rows.
        const recall =
          'error' in r || !exactIdx || !idx
            ? null
            : recallAtK(full ? idx : idx.subarray(0, q * K), exactIdx, K);
        const a = r as ApproxRun;
        perMethod[method] = {
          ...r,
          recallAt10: recall,
          recallOver: full ? 'every row' : `${q} sampled rows`,
          extraMiB: 'error' in r ? null : (r.peakRss - r.rssBefore) / MIB,
        };
        if ('error' in r) console.log(`  ${method} failed: ${r.error}`);
        table.push([
          name,
          method,
          'error' in r ? '-' : JSON.stringify(a.parameters).replace(/"/g, ''),
          'error' in r ? '-' : a.buildSeconds.toFixed(1),
          'error' in r ? '-' : a.searchSeconds.toFixed(1),
          sec(r),
          recall === null ? '-' : recall.toFixed(4),
          extra(r),
          exactSeconds === null ? '-' : `${exactSeconds.toFixed(0)}${full ? '' : ' (extrap.)'}`,
          faissSeconds === null ? '-' : `${faissSeconds.toFixed(0)} (extrap.)`,
          exactSeconds === null || 'error' in r ? '-' : `${(exactSeconds / r.seconds).toFixed(1)}x`,
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
          run: `${q} sampled rows against all N`,
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
      `exact s above ${exactMax.toLocaleString('en-US')} rows and faiss flat s always are extrapolated from ${sample} rows; ` +
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
