// Which nearest-neighbour search the samplers run: exact (native/knn, the default), or approximate over
// libfaiss (IVF or HNSW, native/knn/approx_knn.h) for base sizes the exact search cannot afford; `auto` picks
// by the size of the base (lib/defaults.ts KNN says where and why). One option object, validated here; the
// run records what each search ran (KnnSearchRecord).

import { ivfListsFor, ivfProbesFor, KNN, LIMITS } from '../defaults.js';
import type { ApproxKnnParameters, NativeInfo } from '../native.js';

export const KNN_METHODS = ['exact', 'ivf', 'hnsw', 'auto'] as const;
export type KnnMethodName = (typeof KNN_METHODS)[number];

export function isKnnMethodName(s: string): s is KnnMethodName {
  return (KNN_METHODS as readonly string[]).includes(s);
}

export interface KnnChoice {
  /** Default 'exact'. */
  method?: KnnMethodName;
  /** IVF lists (default 4 sqrt(base rows), lib/defaults.ts ivfListsFor) and lists probed per query (default lib/defaults.ts ivfProbesFor: nlist / 128, at least 16, at most nlist). */
  ivf?: { nlist?: number; nprobe?: number };
  /** HNSW links per node and candidate-list sizes (defaults KNN.hnsw). */
  hnsw?: { m?: number; efConstruction?: number; efSearch?: number };
  /** Seed of the index (k-means sample, HNSW layers); default: the sampler's seed. */
  seed?: number;
  /** Queries per search tile of the approximate search (default: hnsw 16,384; ivf as many as fit 128 MB of candidates). */
  tileRows?: number;
}

/**
 * What one neighbour search of a sampler ran, as the run's results record it. No times: a resampling result
 * is a deterministic function of its inputs (the run's report times phase 2 as a whole).
 */
export type KnnSearchRecord = {
  queries: number;
  baseRows: number;
  k: number;
} & (
  | { method: 'exact'; reason?: string }
  | {
      method: 'ivf';
      ivf: { nlist: number; nprobe: number; trainRows: number };
      seed: number;
      exactFallbackRows: number;
    }
  | {
      method: 'hnsw';
      hnsw: ApproxKnnParameters['hnsw'];
      seed: number;
      exactFallbackRows: number;
    }
);

/** A search resolved for one base: exact, or an approximate method with every parameter chosen. */
export type ResolvedKnn =
  | { method: 'exact'; reason?: string }
  | { method: 'ivf'; ivf: ApproxKnnParameters['ivf']; seed: number; tileRows?: number }
  | { method: 'hnsw'; hnsw: ApproxKnnParameters['hnsw']; seed: number; tileRows?: number };

function checkInteger(name: string, v: unknown, min: number, max: number): void {
  if (v === undefined) return;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw new RangeError(`${name}: expected an integer in [${min}, ${max}], got ${String(v)}`);
}

/** Throws a RangeError naming the bad field (as `name`.field) of a KnnChoice; the size-dependent bounds
 * (nlist <= base rows, nprobe <= nlist) are checked when the base is known (resolveKnn). */
export function validateKnnChoice(choice: KnnChoice, name = 'knn'): void {
  if (typeof choice !== 'object' || choice === null) throw new TypeError(`${name}: expected an object`);
  if (choice.method !== undefined && !isKnnMethodName(choice.method))
    throw new RangeError(
      `${name}.method: expected one of ${KNN_METHODS.join(', ')}, got ${String(choice.method)}`,
    );
  checkInteger(`${name}.ivf.nlist`, choice.ivf?.nlist, 1, LIMITS.integer);
  checkInteger(`${name}.ivf.nprobe`, choice.ivf?.nprobe, 1, LIMITS.integer);
  checkInteger(`${name}.hnsw.m`, choice.hnsw?.m, 2, LIMITS.hnswM);
  checkInteger(`${name}.hnsw.efConstruction`, choice.hnsw?.efConstruction, 1, LIMITS.hnswEf);
  checkInteger(`${name}.hnsw.efSearch`, choice.hnsw?.efSearch, 1, LIMITS.hnswEf);
  checkInteger(`${name}.seed`, choice.seed, 0, LIMITS.seed);
  checkInteger(`${name}.tileRows`, choice.tileRows, 1, 1 << 24);
  const method = choice.method ?? KNN.method;
  if (method === 'exact' && (choice.ivf || choice.hnsw))
    throw new RangeError(`${name}: ivf or hnsw parameters given, but method is 'exact'`);
  if (method === 'ivf' && choice.hnsw)
    throw new RangeError(`${name}: hnsw parameters given, but method is 'ivf'`);
  if (method === 'hnsw' && choice.ivf)
    throw new RangeError(`${name}: ivf parameters given, but method is 'hnsw'`);
}

/** The message of a refused approximate search on a build without libfaiss; `name` names the option. */
export function faissMissingMessage(
  info: Pick<NativeInfo, 'buildSystem'>,
  method: 'ivf' | 'hnsw',
  name = 'knn.method',
): string {
  return (
    `${name} ${method} needs libfaiss, which this build of the addon (built by ${info.buildSystem}) does ` +
    "not include: install Debian's libfaiss-dev and rebuild with npm run build:native (the portable " +
    'node-gyp build never has it), or search exactly (knn.method exact, --knn exact)'
  );
}

/** Throws faissMissingMessage when `choice` asks for ivf or hnsw and the build (`info`) has no libfaiss. */
export function requireKnnSupport(
  choice: KnnChoice | undefined,
  info: Pick<NativeInfo, 'faiss' | 'buildSystem'>,
  name = 'knn.method',
): void {
  const method = choice?.method;
  if ((method === 'ivf' || method === 'hnsw') && !info.faiss)
    throw new Error(faissMissingMessage(info, method, name));
}

/**
 * The search to run for a base of `baseRows` rows: the method (auto: exact up to KNN.autoExactMaxRows rows,
 * else KNN.autoApproximate; exact where the build has no libfaiss, which the reason says) with every
 * parameter filled in from lib/defaults.ts. Throws a RangeError naming a parameter that does not fit the base,
 * or an Error when an approximate method is asked for and `info.faiss` is false.
 */
export function resolveKnn(
  choice: KnnChoice | undefined,
  baseRows: number,
  seed: number,
  info: Pick<NativeInfo, 'faiss' | 'buildSystem'>,
): ResolvedKnn {
  const c = choice ?? {};
  validateKnnChoice(c);
  let method = c.method ?? KNN.method;
  if (method === 'auto') {
    if (baseRows <= KNN.autoExactMaxRows) return { method: 'exact' };
    if (!info.faiss)
      return { method: 'exact', reason: `auto: ${baseRows} rows, but this build has no libfaiss` };
    method = KNN.autoApproximate;
  }
  if (method === 'exact') return { method: 'exact' };
  requireKnnSupport({ method }, info);
  const tile = c.tileRows === undefined ? {} : { tileRows: c.tileRows };
  const indexSeed = c.seed ?? seed;
  if (method === 'ivf') {
    const nlist = c.ivf?.nlist ?? ivfListsFor(baseRows);
    if (nlist > baseRows)
      throw new RangeError(
        `knn.ivf.nlist: ${nlist} lists for ${baseRows} base rows; at most one list per row`,
      );
    const nprobe = c.ivf?.nprobe ?? ivfProbesFor(nlist);
    if (nprobe > nlist)
      throw new RangeError(`knn.ivf.nprobe: ${nprobe} probes of ${nlist} lists; at most nlist`);
    return { method, ivf: { nlist, nprobe }, seed: indexSeed, ...tile };
  }
  const hnsw = { ...KNN.hnsw, ...c.hnsw };
  return { method, hnsw, seed: indexSeed, ...tile };
}
