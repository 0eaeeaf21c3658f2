// npm run bench:knn -- exact self-kNN, k = 11 (each row is among its own 11 neighbours, as the peers return
// it), on seeded random N(0, 1) float32 rows: N = 12,406 and 100,000 at d = 64, N = 50,000 at d = 512.
// Ours (native/knn through the addon) against faiss IndexFlatL2 and scikit-learn
// NearestNeighbors(algorithm='brute'), 2 threads each, ours at one ISA level or several. Prints seconds,
// GFLOP/s of the distance computation counted as 2 N^2 d (a brute force's work: ours computes each pair
// once, so it does half of that), the fraction of the machine's sgemm rate at that level our own N^2 d
// FLOP/s reach (above 1 is possible in bf16, which does twice the arithmetic per instruction), peak memory,
// the ratios, the kernel that ran, and how often the peers' neighbour sets equal ours; writes
// bench/out/knn.json. The project's target: ours >= 5x faiss at every level but portable.
//
// Every search runs in its own process (this file with --ours, or bench/peers/knn_peers.py), so that peak
// RSS is per search; "extra" is the peak minus the resident size once the input is loaded. Ours runs under
// EOS_MAX_ISA = the level; the peers once per case, with OPENBLAS_CORETYPE unset (the machine-wide Haswell
// setting halves OpenBLAS's GEMM speed). The sgemm limit of a level is numpy's OpenBLAS with that level's
// kernel (bench/peers/sgemm_rate.py with OPENBLAS_CORETYPE = Haswell, SkylakeX or Cooperlake).
//
// Options: --cases=all|small (small: N = 12,406 only), --isa=LEVEL|all (portable, avx2, avx512 or
// avx512_bf16; all: every level of this CPU but portable, which is ~50x slower; default: the machine's
// own), --repeats=N (best of N per search; default 3 for the small case, 1 for the large ones),
// --threads=N (default 2).
// Figures are wall-clock on a shared machine: compare the ratios of one run, not absolute seconds.

import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CPU_ISA_LEVELS, type CpuIsaLevel, native } from '../lib/native.js';
import { type Outcome, option, type Run, randomRows, readIndices, spawnJson } from './knn-helpers.js';

const K = 11;
const SEED = 0;
const CASES = [
  { name: 'N=12406 d=64', n: 12406, d: 64, small: true },
  { name: 'N=100000 d=64', n: 100000, d: 64, small: false },
  { name: 'N=50000 d=512', n: 50000, d: 512, small: false },
];
const MIB = 1 << 20;
// OpenBLAS's kernel for the sgemm limit of each level (its CPU names; Nehalem = SSE4.2, no FMA).
const OPENBLAS_CORE: Record<CpuIsaLevel, string> = {
  portable: 'Nehalem',
  avx2: 'Haswell',
  avx512: 'SkylakeX',
  avx512_bf16: 'Cooperlake',
};

const root = fileURLToPath(new URL('../../', import.meta.url));
const outDir = `${root}bench/out`;

/** Child mode: one of our searches, reported as JSON on stdout. */
async function childOurs(args: string[]): Promise<void> {
  const [path, n, d, k, repeats, threads, outPath] = args; // the level: EOS_MAX_ISA
  const bytes = readFileSync(path);
  const x = new Float32Array(bytes.buffer, bytes.byteOffset, Number(n) * Number(d));
  const rssBefore = process.memoryUsage().rss;
  let best = Infinity;
  let result: Awaited<ReturnType<ReturnType<typeof native>['knnSearch']>> | undefined;
  for (let r = 0; r < Number(repeats); r++) {
    const start = performance.now();
    result = await native().knnSearch(x, null, Number(d), Number(k), { threads: Number(threads) });
    best = Math.min(best, (performance.now() - start) / 1000);
  }
  const peakRss = process.resourceUsage().maxRSS * 1024;
  writeFileSync(outPath, result!.indices);
  const { kernel, symmetric, float32Rows, bruteForceRows } = result!.stats;
  const run: Run = { seconds: best, rssBefore, peakRss, kernel, symmetric, float32Rows, bruteForceRows };
  process.stdout.write(JSON.stringify(run));
}

/** Rows whose neighbour sets are equal (order ignored: ties may be ordered differently). */
function agreement(a: Int32Array, b: Int32Array, k: number): number {
  let same = 0;
  const rows = a.length / k;
  for (let i = 0; i < rows; i++) {
    const sa = Array.from(a.subarray(i * k, i * k + k)).sort((p, q) => p - q);
    const sb = Array.from(b.subarray(i * k, i * k + k)).sort((p, q) => p - q);
    if (sa.every((v, j) => v === sb[j])) same++;
  }
  return same / rows;
}

/** The levels --isa asks for, highest first; only levels this CPU has. */
function levelsToRun(detected: CpuIsaLevel): CpuIsaLevel[] {
  const machine = CPU_ISA_LEVELS.slice(0, CPU_ISA_LEVELS.indexOf(detected) + 1);
  const want = option('isa', detected);
  if (want === 'all') return machine.filter((l) => l !== 'portable').reverse();
  if (!machine.includes(want as CpuIsaLevel)) {
    throw new RangeError(
      `--isa: expected all or one of ${machine.join(', ')} (this CPU: ${detected}), got '${want}'`,
    );
  }
  return [want as CpuIsaLevel];
}

/** numpy's sgemm GFLOP/s with OpenBLAS's kernel of the level, or null when it cannot run. */
function sgemmRate(level: CpuIsaLevel, threads: number, peerEnv: NodeJS.ProcessEnv): number | null {
  const env = { ...peerEnv, OPENBLAS_CORETYPE: OPENBLAS_CORE[level] };
  const child = spawnSync('/usr/bin/python3', [`${root}bench/peers/sgemm_rate.py`, String(threads)], {
    env,
    encoding: 'utf8',
  });
  if (child.status !== 0) return null;
  return Number(JSON.parse(child.stdout.trim().split('\n').pop() ?? '{}').gflops) || null;
}

async function main(): Promise<void> {
  const oursAt = process.argv.indexOf('--ours');
  if (oursAt >= 0) return childOurs(process.argv.slice(oursAt + 1));

  const which = option('cases', 'all');
  if (which !== 'all' && which !== 'small') throw new RangeError('--cases: expected all or small');
  const threads = Number(option('threads', '2'));
  if (!Number.isInteger(threads) || threads < 1) throw new RangeError('--threads: expected an integer >= 1');
  const repeatsOption = option('repeats', '');
  const repeatsArg = repeatsOption === '' ? null : Number(repeatsOption);
  if (repeatsArg !== null && (!Number.isInteger(repeatsArg) || repeatsArg < 1)) {
    throw new RangeError('--repeats: expected an integer >= 1');
  }

  const detected = native().info().cpuIsaDetected;
  const levels = levelsToRun(detected);
  const peerEnv = { ...process.env };
  delete peerEnv.OPENBLAS_CORETYPE;
  const sgemm: Partial<Record<CpuIsaLevel, number | null>> = {};
  for (const level of levels) sgemm[level] = sgemmRate(level, threads, peerEnv);
  const script = `${root}bench/peers/knn_peers.py`;
  const self = fileURLToPath(import.meta.url);
  const tmp = mkdtempSync(join(os.tmpdir(), 'eos-knn-bench-'));
  const report: Record<string, unknown> = {};
  const table: string[][] = [];
  try {
    for (const c of CASES.filter((c) => which === 'all' || c.small)) {
      const repeats = repeatsArg ?? (c.small ? 3 : 1);
      const data = join(tmp, 'x.f32');
      writeFileSync(data, randomRows(c.n, c.d, SEED));
      const common = [data, String(c.n), String(c.d), String(K), String(repeats), String(threads)];
      const peers: Record<string, Outcome> = {};
      for (const peer of ['faiss', 'sklearn']) {
        console.log(`${c.name}: ${peer}...`);
        peers[peer] = spawnJson(
          '/usr/bin/python3',
          [script, peer, ...common, join(tmp, `${peer}.i32`)],
          peerEnv,
        );
      }
      const flops = 2 * c.n * c.n * c.d;
      const summary = (r: Outcome) =>
        'error' in r
          ? r
          : {
              ...r,
              gflops: flops / r.seconds / 1e9,
              extraMiB: (r.peakRss - r.rssBefore) / MIB,
              peakMiB: r.peakRss / MIB,
            };
      const perLevel: Record<string, unknown> = {};
      for (const level of levels) {
        console.log(`${c.name}: ours at ${level}...`);
        const ours = spawnJson(process.execPath, [self, '--ours', ...common, join(tmp, 'ours.i32')], {
          ...process.env,
          EOS_MAX_ISA: level,
        });
        const oursIdx = readIndices(join(tmp, 'ours.i32'));
        const ratios: Record<string, number | null> = {};
        const agree: Record<string, number | null> = {};
        for (const peer of ['faiss', 'sklearn']) {
          const p = peers[peer];
          ratios[peer] = 'error' in ours || 'error' in p ? null : p.seconds / ours.seconds;
          const peerIdx = readIndices(join(tmp, `${peer}.i32`));
          agree[peer] = oursIdx && peerIdx && !('error' in p) ? agreement(oursIdx, peerIdx, K) : null;
        }
        // Our own arithmetic: N^2 / 2 pairs x 2d FLOP, against the sgemm rate of the level.
        const limit = sgemm[level] ?? null;
        const fraction = 'error' in ours || limit === null ? null : flops / 2 / ours.seconds / 1e9 / limit;
        perLevel[level] = {
          ours: summary(ours),
          ratios,
          sameNeighbourSets: agree,
          sgemmGflops: limit,
          fractionOfSgemm: fraction,
        };
        const sec = (r: Outcome) => ('error' in r ? 'error' : r.seconds.toFixed(3));
        const gf = (r: Outcome) => ('error' in r ? '-' : (flops / r.seconds / 1e9).toFixed(1));
        const mem = (r: Outcome) => ('error' in r ? '-' : `${((r.peakRss - r.rssBefore) / MIB).toFixed(0)}`);
        const x = (v: number | null) => (v === null ? '-' : `${v.toFixed(1)}x`);
        table.push([
          c.name,
          level,
          'error' in ours ? '-' : (ours.kernel ?? '-'),
          sec(ours),
          sec(peers.faiss),
          sec(peers.sklearn),
          x(ratios.faiss),
          x(ratios.sklearn),
          gf(ours),
          gf(peers.faiss),
          gf(peers.sklearn),
          fraction === null ? '-' : `${(100 * fraction).toFixed(0)}%`,
          `${mem(ours)}/${mem(peers.faiss)}/${mem(peers.sklearn)}`,
          agree.faiss === null ? '-' : `${(100 * agree.faiss).toFixed(2)}%`,
        ]);
        if ('error' in ours) console.log(`  ours at ${level} failed: ${ours.error}`);
      }
      for (const [name, r] of Object.entries(peers)) {
        if ('error' in r) console.log(`  ${name} failed: ${r.error}`);
      }
      report[c.name] = {
        n: c.n,
        d: c.d,
        k: K,
        repeats,
        inputMiB: (c.n * c.d * 4) / MIB,
        faiss: summary(peers.faiss),
        sklearn: summary(peers.sklearn),
        levels: perLevel,
      };
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }

  const header = [
    'case',
    'isa',
    'kernel',
    'ours s',
    'faiss s',
    'sklearn s',
    'faiss/ours',
    'skl/ours',
    'ours GF/s',
    'faiss GF/s',
    'skl GF/s',
    'of sgemm',
    'extra MiB o/f/s',
    'same as faiss',
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i].length)));
  const line = (row: string[]) =>
    row.map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ');
  console.log(
    `\nexact self-kNN, k = ${K}, ${threads} threads, ${os.cpus()[0]?.model ?? 'unknown CPU'} (ISA ${detected}); ` +
      'GF/s = 2 N^2 d / seconds; of sgemm = our N^2 d FLOP/s over numpy sgemm at the level ' +
      `(${levels.map((l) => `${l} ${sgemm[l]?.toFixed(0) ?? '?'} GF/s`).join(', ')}); ` +
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
      isa: detected,
      node: process.version,
    },
    threads,
    sgemmGflops: sgemm,
    cases: report,
  };
  writeFileSync(`${outDir}/knn.json`, `${JSON.stringify(file, null, 2)}\n`);
  console.log(`\nwrote ${outDir}/knn.json`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
