// What the k-NN benchmarks share (bench/knn.ts, exact against its peers; bench/knn-approx.ts, approximate
// against exact): seeded rows, one search per child process reported as JSON, index files, --name=value options.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** One search as a child process reports it; rssBefore is the resident size once the input is loaded. */
export interface Run {
  seconds: number;
  rssBefore: number;
  peakRss: number;
  version?: string;
  kernel?: string;
  symmetric?: boolean;
  float32Rows?: number;
  bruteForceRows?: number;
}
export type Outcome = Run | { error: string };

/** A seeded uniform generator on [0, 1) (mulberry32). */
export function seededUniform(seed: number): () => number {
  let s = (seed + 0x9e3779b9) >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A seeded N(0, 1) draw (Box-Muller over seededUniform). */
export function seededNormal(seed: number): () => number {
  const uniform = seededUniform(seed);
  return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}

/** Seeded N(0, 1) float32 rows. */
export function randomRows(n: number, d: number, seed: number): Float32Array {
  const normal = seededNormal(seed);
  const x = new Float32Array(n * d);
  for (let i = 0; i < x.length; i++) x[i] = normal();
  return x;
}

/** Runs a child that prints one JSON object; its failure becomes { error }. */
export function spawnJson(command: string, args: string[], env: NodeJS.ProcessEnv): Outcome {
  const child = spawnSync(command, args, { env, encoding: 'utf8', maxBuffer: 1 << 20 });
  if (child.status !== 0) {
    return {
      error: `${command} ${args.join(' ')} failed (${child.error?.message ?? `exit ${child.status}`}): ${child.stderr}`,
    };
  }
  return JSON.parse(child.stdout) as Outcome;
}

/** An int32 index file written by a child, or null when there is none. */
export function readIndices(path: string): Int32Array | null {
  try {
    const bytes = readFileSync(path);
    return new Int32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  } catch {
    return null;
  }
}

/** The value of --name=value on the command line, or `fallback`. */
export function option(name: string, fallback: string): string {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  return arg ? arg.slice(name.length + 3) : fallback;
}
