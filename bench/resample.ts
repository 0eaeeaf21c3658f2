// npm run bench:resample -- EOS, SMOTE and ADASYN (ours) on 64-d clustered embeddings shaped like CIFAR-10-LT
// (12,406 rows, imbalance ratio 100) against imbalanced-learn's SMOTE and ADASYN on the same rows, plus
// imbalanced-learn's SMOTE on raw 3,072-d pixels of the same class sizes (the paper's efficiency argument:
// resample embeddings, not pixels). Prints seconds and ratios; writes bench/out/resample.json.
//
// Options: --repeats=N (best of N runs per case, default 3).
// Figures are wall-clock on a shared machine: compare the ratios of one run, not absolute seconds.

import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { ADASYN, EOS, type OverSampler, SMOTE, Xoshiro128 } from '../lib/resample/index.js';

const CLASS_SIZES = [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50];
const DIM = 64;
const PIXEL_DIM = 3072;
const SEED = 0;

const root = fileURLToPath(new URL('../../', import.meta.url));
const outDir = `${root}bench/out`;

interface Timing {
  seconds: number;
  rows: number;
}

/** Clustered random embeddings: per class a centre ~ N(0, 0.5^2)^d, rows = max(0, centre + N(0, 0.9^2))
 * (non-negative like pooled post-ReLU CNN features). The overlap is tuned so that, as with real long-tailed
 * embeddings, nearly every minority row has an enemy among its 10 neighbours and a third of majority rows do. */
function embeddings(seed: number): { x: Float32Array; y: Int32Array } {
  const rng = new Xoshiro128(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - rng.uniform())) * Math.cos(2 * Math.PI * rng.uniform());
  const n = CLASS_SIZES.reduce((a, b) => a + b, 0);
  const centres = Float64Array.from({ length: CLASS_SIZES.length * DIM }, () => 0.5 * normal());
  const x = new Float32Array(n * DIM);
  const y = new Int32Array(n);
  let row = 0;
  CLASS_SIZES.forEach((size, label) => {
    for (let i = 0; i < size; i++, row++) {
      y[row] = label;
      for (let j = 0; j < DIM; j++) x[row * DIM + j] = Math.max(0, centres[label * DIM + j] + 0.9 * normal());
    }
  });
  return { x, y };
}

async function bestOf(
  repeats: number,
  make: () => OverSampler,
  x: Float32Array,
  y: Int32Array,
): Promise<Timing> {
  let best = Infinity;
  let rows = 0;
  for (let i = 0; i < repeats; i++) {
    const sampler = make();
    const start = performance.now();
    const result = await sampler.fitResample(x, y, DIM);
    best = Math.min(best, (performance.now() - start) / 1000);
    rows = result.y.length;
  }
  return { seconds: best, rows };
}

interface PeerResults {
  smote_embeddings: Timing;
  adasyn_embeddings: Timing;
  smote_pixels: Timing & { dim: number };
  versions: Record<string, string | null>;
}

/** Runs the imbalanced-learn peers in one Python process, with OPENBLAS_CORETYPE unset for it only (the
 * machine-wide Haswell setting halves OpenBLAS's GEMM speed; the peer deserves its best kernels). */
function runPeers(xPath: string, yPath: string, repeats: number): PeerResults | { error: string } {
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  const script = `${root}bench/peers/resample_peers.py`;
  const args = [script, xPath, yPath, String(DIM), String(repeats), String(PIXEL_DIM), String(SEED)];
  const peer = spawnSync('/usr/bin/python3', args, { env, encoding: 'utf8', maxBuffer: 1 << 20 });
  if (peer.status !== 0) {
    return {
      error: `python3 ${script} failed (${peer.error?.message ?? `exit ${peer.status}`}): ${peer.stderr}`,
    };
  }
  return JSON.parse(peer.stdout) as PeerResults;
}

const ratio = (peer: number, ours: number) => Number((peer / ours).toFixed(2));

async function main(): Promise<void> {
  const repeatsArg = process.argv.find((arg) => arg.startsWith('--repeats='));
  const repeats = repeatsArg ? Number(repeatsArg.slice('--repeats='.length)) : 3;
  if (!Number.isInteger(repeats) || repeats < 1) throw new RangeError('--repeats: expected an integer >= 1');

  const { x, y } = embeddings(SEED);
  mkdirSync(outDir, { recursive: true });
  const xPath = `${outDir}/resample-embeddings.f32`;
  const yPath = `${outDir}/resample-labels.i32`;
  writeFileSync(xPath, x);
  writeFileSync(yPath, y);
  console.log(
    `resample bench: ${y.length} rows x ${DIM} (CIFAR-10-LT sizes ${CLASS_SIZES.join(', ')}), best of ${repeats}`,
  );

  const ours = {
    eos: await bestOf(repeats, () => new EOS({ kNeighbors: 10, seed: 0 }), x, y),
    smote: await bestOf(repeats, () => new SMOTE({ kNeighbors: 5, seed: 0 }), x, y),
    adasyn: await bestOf(repeats, () => new ADASYN({ nNeighbors: 5, seed: 0 }), x, y),
  };
  const peers = runPeers(xPath, yPath, repeats);

  const rows: {
    case: string;
    ours: number | null;
    peer: number | null;
    peerName: string;
    ratio: number | null;
  }[] = [];
  const add = (name: string, oursSeconds: number | null, peerName: string, peerSeconds: number | null) =>
    rows.push({
      case: name,
      ours: oursSeconds,
      peer: peerSeconds,
      peerName,
      ratio: oursSeconds !== null && peerSeconds !== null ? ratio(peerSeconds, oursSeconds) : null,
    });
  const peer = 'error' in peers ? null : peers;
  add('SMOTE, 64-d embeddings', ours.smote.seconds, 'imblearn SMOTE', peer?.smote_embeddings.seconds ?? null);
  add(
    'ADASYN, 64-d embeddings',
    ours.adasyn.seconds,
    'imblearn ADASYN',
    peer?.adasyn_embeddings.seconds ?? null,
  );
  add(
    'EOS (ours), 64-d embeddings',
    ours.eos.seconds,
    'imblearn SMOTE',
    peer?.smote_embeddings.seconds ?? null,
  );
  add(
    'EOS (ours) embeddings vs SMOTE on pixels',
    ours.eos.seconds,
    `imblearn SMOTE ${PIXEL_DIM}-d pixels`,
    peer?.smote_pixels.seconds ?? null,
  );

  const fmt = (v: number | null, digits = 3) => (v === null ? 'n/a' : v.toFixed(digits));
  console.log('');
  console.log(
    `${'case'.padEnd(42)} ${'ours s'.padStart(9)} ${'peer'.padEnd(28)} ${'peer s'.padStart(9)} ${'peer/ours'.padStart(9)}`,
  );
  for (const r of rows) {
    console.log(
      `${r.case.padEnd(42)} ${fmt(r.ours).padStart(9)} ${r.peerName.padEnd(28)} ${fmt(r.peer).padStart(9)} ` +
        `${fmt(r.ratio, 2).padStart(9)}`,
    );
  }
  if ('error' in peers) console.log(`\npeers failed: ${peers.error}`);
  else {
    // Same input, same deterministic per-row counts: ADASYN's output size must agree with imbalanced-learn's.
    const same = (a: number, b: number) => (a === b ? 'equal' : 'DIFFERENT');
    console.log(
      `\noutput rows: SMOTE ours ${ours.smote.rows} / imblearn ${peers.smote_embeddings.rows} ` +
        `(${same(ours.smote.rows, peers.smote_embeddings.rows)}), ADASYN ours ${ours.adasyn.rows} / imblearn ` +
        `${peers.adasyn_embeddings.rows} (${same(ours.adasyn.rows, peers.adasyn_embeddings.rows)})`,
    );
  }

  const report = {
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? 'unknown', node: process.version },
    data: { rows: y.length, dim: DIM, classSizes: CLASS_SIZES, pixelDim: PIXEL_DIM, seed: SEED },
    repeats,
    ours,
    peers,
    cases: rows,
  };
  writeFileSync(`${outDir}/resample.json`, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\nwrote ${outDir}/resample.json`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
