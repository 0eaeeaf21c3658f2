// The one file that loads the native addon and gives it types.
//
// The binary is looked for, in order, at $EOS_NATIVE_PATH, the cmake-js build (the fast, oneDNN-backed one)
// and the node-gyp build (portable reference backend). If none loads, the error lists every path tried, why
// each failed, and the command that builds the addon.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Run-time ISA levels of our own SIMD kernels, lowest first (native/core/cpu_level.h). */
export const CPU_ISA_LEVELS = ['portable', 'avx2', 'avx512', 'avx512_bf16'] as const;
export type CpuIsaLevel = (typeof CPU_ISA_LEVELS)[number];

/**
 * oneDNN's ONEDNN_MAX_CPU_ISA cap for each of our levels (the widest oneDNN ISA within it; SSE4.1 is oneDNN's
 * floor): with EOS_MAX_ISA it makes a process run what a CPU of that level runs (tests, benchmarks).
 */
export const ONEDNN_ISA_CAP: Record<CpuIsaLevel, string> = {
  portable: 'SSE41',
  avx2: 'AVX2',
  avx512: 'AVX512_CORE',
  avx512_bf16: 'AVX512_CORE_BF16',
};

/** What the binary was built with and where it runs (see `eos info`). */
/** One GPU as CUDA reports it. */
export interface NativeCudaDevice {
  index: number;
  name: string;
  /** Bytes. */
  totalMemory: number;
  /** Bytes free at the time of the query. */
  freeMemory: number;
  /** "9.0" for an H100/H200. */
  computeCapability: string;
  multiprocessors: number;
}

/** What a CUDA build was built for and what it finds here. */
export interface NativeCudaInfo {
  /** The GPU targets compiled in (CMake's CUDA architectures, comma-separated). */
  targets: string;
  /** "12.8"; "none" without a driver. */
  driverVersion: string;
  runtimeVersion: string;
  devices: NativeCudaDevice[];
  /** Why no GPU can be used (null when one can). */
  unavailable: string | null;
  /** The convolutions' arithmetic, from EOS_CUDA_MATH: fp32 (default), tf32 or bf16 (or what is wrong). */
  math: string;
  /** Which kernels, if any, are not bitwise reproducible. */
  deterministic: string;
}

export interface NativeInfo {
  /** What backend 'auto' runs here: cuda where a GPU is found, else dnnl where built, else ref. */
  backend: Exclude<BackendChoice, 'auto'>;
  /** Every backend built in, fastest first (cuda is listed even where no GPU is found). */
  backends: string[];
  dnnlVersion: string | null;
  dnnlIsa: string | null;
  /** Built with the CUDA backend. */
  cuda: boolean;
  /** Null in a build without CUDA. */
  cudaInfo: NativeCudaInfo | null;
  /** Linked with libfaiss: approxKnnSearch works (the CMake build, where Debian's libfaiss-dev was found). */
  faiss: boolean;
  faissVersion: string | null;
  /** ISA level of our own SIMD kernels: the detected level, lowered by EOS_MAX_ISA when set. */
  cpuIsa: CpuIsaLevel;
  /** What the CPU supports (ignoring EOS_MAX_ISA). */
  cpuIsaDetected: CpuIsaLevel;
  buildSystem: 'cmake-js' | 'node-gyp' | string;
  defaultThreads: number;
  compiler: string;
}

export interface AugmentOptions {
  /** Per-channel mean and std of pixel/255, as torchvision's Normalize. */
  mean: ArrayLike<number>;
  std: ArrayLike<number>;
  /** Zero padding of the random crop (default 4; 0 disables the crop). */
  pad?: number;
  /** Random horizontal flip (default true). */
  flip?: boolean;
  seed?: number;
  epoch?: number;
  threads?: number;
}

export interface KnnSearchOptions {
  /** Query i never gets base row i (needs as many queries as base rows; default false). */
  excludeSelf?: boolean;
  /** OpenMP threads (0 or absent: OpenMP's default). The answer does not depend on it. */
  threads?: number;
  /** Query rows per tile (rows per block in self-search); absent: chosen from d and the cache sizes. */
  tileRows?: number;
  /** Base rows per tile when queries are swept against a separate base; absent: automatic. */
  tileCols?: number;
  /** First pass in bfloat16 where the CPU has AVX512-BF16 (default true); the answer is the same either way. */
  bf16?: boolean;
  /**
   * Highest ISA level the search's own kernels may use (absent: no cap). The CPU and the EOS_MAX_ISA
   * environment variable cap it further; `stats.kernel` names the kernel that ran. The answer is the same at
   * every level.
   */
  maxIsa?: CpuIsaLevel;
  /**
   * Where the search runs (default 'cpu'). 'cuda' needs an addon built with CUDA and a usable GPU (else the
   * call fails saying which is missing); the answer is the same. threads, tileRows, tileCols, bf16 and maxIsa
   * apply to the CPU only.
   */
  device?: KnnDevice;
  /**
   * device 'cuda': first pass on tensor cores (default true; in tf32, or with each value split in two tf32
   * halves, 'tf32x3', where tf32 cannot certify a sample of the queries), else float32 FMAs. The answer is the
   * same.
   */
  tensorCores?: boolean;
}

/** The processors the k-NN search runs on. */
export type KnnDevice = 'cpu' | 'cuda';

export interface KnnSearchResult {
  /** nq x k row-major base row indices, nearest first, ties broken by the smaller index. */
  indices: Int32Array;
  /** Squared Euclidean distances matching `indices` (exact: double-precision sums rounded to float). */
  distances: Float32Array;
  stats: {
    /** Candidates kept per query by the first pass before the exact re-ranking. */
    candidates: number;
    /** Queries the bf16 (CPU) or tensor-core (CUDA) first pass could not certify, redone in float32. */
    float32Rows: number;
    /** Queries no pass could certify, recomputed by brute force. */
    bruteForceRows: number;
    /** Whether the self-search computed each pair once. */
    symmetric: boolean;
    /**
     * First-pass distance kernel that ran: 'avx512bf16', 'avx512', 'avx2' or 'portable'; 'tf32', 'tf32x3' or 'fp32'
     * with device 'cuda'.
     */
    kernel: string;
  };
}

/** The parameters of an approximate index (native/knn/approx_knn.h): all required, lib/defaults.ts chooses them. */
export interface ApproxKnnParameters {
  ivf: { nlist: number; nprobe: number };
  hnsw: { m: number; efConstruction: number; efSearch: number };
}

export type ApproxKnnSearchOptions = {
  /** Seeds the k-means sample and initial centroids (ivf) or the nodes' layers (hnsw); in [0, 2^32 - 1]. */
  seed: number;
  excludeSelf?: boolean;
  threads?: number;
  /** Queries per search tile (default 16,384): memory is the index plus one tile's candidates. */
  tileRows?: number;
} & (
  | { method: 'ivf'; ivf: ApproxKnnParameters['ivf'] }
  | { method: 'hnsw'; hnsw: ApproxKnnParameters['hnsw'] }
);

export interface ApproxKnnSearchResult {
  /** nq x k row-major base row indices, nearest first as the index ranks them. */
  indices: Int32Array;
  /** Squared Euclidean distances matching `indices` (ivf: the exact search's; hnsw: float32 sums, native/knn/approx_knn.cc). */
  distances: Float32Array;
  stats: {
    method: 'ivf' | 'hnsw';
    /** ivf only; trainRows: the rows k-means trained on (a seeded sample of at most 64 per list). */
    ivf?: { nlist: number; nprobe: number; trainRows: number };
    hnsw?: ApproxKnnParameters['hnsw'];
    seed: number;
    tiles: number;
    tileRows: number;
    /** Queries the index left short of k rows, answered by the exact search instead. */
    exactFallbackRows: number;
    buildSeconds: number;
    searchSeconds: number;
  };
}

/** Loss options shared by the training entry points (class weights are passed separately, per epoch). */
export type LossOptions =
  | { kind: 'ce' }
  | { kind: 'focal'; gamma: number }
  | { kind: 'ldam'; classCounts: number[]; maxMargin: number; scale: number }
  | { kind: 'asl'; gammaPos: number; gammaNeg: number; eps: number };

export type HeadKindName = 'linear' | 'cosine';

/** A classifier head: linear (weight [K, D], bias [K]) or cosine (weight [D, K], bias null). */
export interface HeadWeights {
  weight: Float32Array;
  bias: Float32Array | null;
}

export interface TrainHeadConfig {
  head: HeadKindName;
  dim: number;
  classes: number;
  batch: number;
  epochs: number;
  lrPerEpoch: number[];
  weightsPerEpoch: (number[] | null)[];
  loss: LossOptions;
  momentum: number;
  weightDecay: number;
  nesterov: boolean;
  seed: number;
  threads: number;
  /** The backend whose head engine trains it ('auto': the fastest built in). */
  backend: BackendChoice;
}

/** The compute backends by name ('auto': the fastest this build has that can run here; native/nn/engine_factory.cc). */
export const BACKEND_CHOICES = ['auto', 'cuda', 'dnnl', 'ref'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];

/** The native network object (see native/addon/network_binding.cc). */
export interface NativeNetwork {
  readonly backend: string;
  parameterTable(): { name: string; offset: number; shape: number[] }[];
  bufferTable(): { name: string; offset: number; shape: number[] }[];
  batchNormNames(): string[];
  getParameters(): Float32Array;
  setParameters(values: Float32Array): void;
  getBuffers(): Float32Array;
  setBuffers(values: Float32Array): void;
  getMomentum(): Float32Array;
  setMomentum(values: Float32Array): void;
  getNumBatchesTracked(): number[];
  setNumBatchesTracked(values: number[]): void;
  /**
   * Testing aid (ref backend only): while on, every training forward records the smallest |x| over the
   * inputs of every ReLU. Two correct backends may take opposite sides of a ReLU only within rounding error
   * of 0, so a comparison of their gradients is conclusive only when this margin is well above that error.
   */
  trackReluMargin(on: boolean): void;
  /** The smallest |ReLU input| recorded since the last call (Infinity when none); resets it. */
  takeReluMargin(): number;
  trainEpoch(
    images: Uint8Array,
    shape: [number, number, number, number],
    labels: Int32Array,
    order: Int32Array,
    config: {
      batch: number;
      lr: number;
      momentum: number;
      weightDecay: number;
      nesterov: boolean;
      loss: LossOptions;
      classWeights: number[] | null;
      mean: number[];
      std: number[];
      augment: boolean;
      pad: number;
      flip: boolean;
      seed: number;
      epoch: number;
      progressEvery: number;
    },
    onProgress?: (p: NativeEpochProgress) => void,
    stopFlag?: Int32Array,
  ): Promise<NativeEpochProgress>;
  predict(
    images: Uint8Array,
    shape: [number, number, number, number],
    indices: Int32Array | null,
    config: { batch: number; mean: number[]; std: number[]; logits: boolean; embeddings: boolean },
    stopFlag?: Int32Array,
  ): Promise<{ logits: Float32Array | null; embeddings: Float32Array | null }>;
  dispose(): void;
}

export interface NativeEpochProgress {
  batches: number;
  batchesTotal: number;
  images: number;
  /** Mean training loss over the images seen so far this epoch. */
  loss: number;
  /** Fraction of those images whose train-mode logits ranked their label first. */
  accuracy: number;
  /** The last batch's loss was not finite: the epoch stopped after it and the parameters are spoiled. */
  diverged: boolean;
}

/**
 * How every native promise reports a stop by its AbortSignal: it rejects with this error (name
 * 'AbortError'); a stopped trainEpoch carries the epoch's progress so far as `partial`.
 */
export interface NativeAbortError extends Error {
  name: 'AbortError';
  partial?: NativeEpochProgress;
}

export function isAbortError(err: unknown): err is NativeAbortError {
  return err instanceof Error && err.name === 'AbortError';
}

/** The network's architecture as native/nn/topology.h describes it (the one description of it). */
export interface NativeTopology {
  parameters: { name: string; offset: number; shape: number[] }[];
  buffers: { name: string; offset: number; shape: number[] }[];
  batchNorms: string[];
  embeddingSize: number;
  blocks: { prefix: string; inPlanes: number; planes: number; stride: number }[];
}

export interface NativeNetworkSpec {
  depth: number;
  inChannels: number;
  inputSize: number;
  classes: number;
  head: HeadKindName;
  seed: number;
  backend: BackendChoice;
  threads: number;
}

export interface NativeAddon {
  info(): NativeInfo;
  NativeNetwork: new (spec: NativeNetworkSpec) => NativeNetwork;
  topology(
    spec: Pick<NativeNetworkSpec, 'depth' | 'inChannels' | 'inputSize' | 'classes' | 'head' | 'seed'>,
  ): NativeTopology;
  /** Phase 3: trains a head on fixed embeddings x [N, dim]; `orders` holds each epoch's row order. */
  trainHead(
    x: Float32Array,
    labels: Int32Array,
    orders: Int32Array,
    config: TrainHeadConfig,
    init?: { weight: Float32Array; bias?: Float32Array | null } | null,
    stopFlag?: Int32Array,
  ): Promise<HeadWeights & { losses: number[] }>;
  /** Logits [N, classes] of a head on x [N, dim]. */
  headLogits(
    x: Float32Array,
    head: {
      kind: HeadKindName;
      dim: number;
      classes: number;
      weight: Float32Array;
      bias?: Float32Array | null;
    },
  ): Float32Array;
  /** Exact k nearest neighbours of each query row among the base rows (base null: among the queries). */
  knnSearch(
    queries: Float32Array,
    base: Float32Array | null,
    d: number,
    k: number,
    options?: KnnSearchOptions,
  ): Promise<KnnSearchResult>;
  /**
   * Approximate k nearest neighbours over libfaiss (IVF-Flat or HNSW-Flat), built and searched in a worker,
   * tile by tile; the stop flag is polled between tiles. Throws where info().faiss is false.
   */
  approxKnnSearch(
    queries: Float32Array,
    base: Float32Array | null,
    d: number,
    k: number,
    options: ApproxKnnSearchOptions,
    stopFlag?: Int32Array,
  ): Promise<ApproxKnnSearchResult>;
  /** knnSearch on the calling thread, for small inputs. */
  knnSearchSync(
    queries: Float32Array,
    base: Float32Array | null,
    d: number,
    k: number,
    options?: KnnSearchOptions,
  ): KnnSearchResult;
  /** Random crop + flip + normalise the images at `indices` (NCHW uint8, shape [N, C, H, W]) into `out`. */
  augmentBatch(
    images: Uint8Array,
    shape: [number, number, number, number],
    indices: Int32Array,
    out: Float32Array,
    options: AugmentOptions,
  ): void;
  /** Normalise only (evaluation): same arguments as augmentBatch; pad/flip/seed/epoch are ignored. */
  normalizeBatch(
    images: Uint8Array,
    shape: [number, number, number, number],
    indices: Int32Array,
    out: Float32Array,
    options: AugmentOptions,
  ): void;
}

/** Root of the package (this file is compiled to dist/lib/native.js). */
export const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** How to build the binary: in a project that depends on the package (its install step), or in a checkout. */
export const BUILD_COMMAND =
  '\n  npm rebuild eos-imbalance --foreground-scripts   (in a project that depends on eos-imbalance)' +
  '\n  npm run build:native   (in a checkout of eos-imbalance; portable build without CMake: npm run build:gyp)';

/** The places the binary is looked for, in order. */
export function candidatePaths(env: NodeJS.ProcessEnv = process.env): string[] {
  const paths: string[] = [];
  if (env.EOS_NATIVE_PATH) paths.push(resolve(env.EOS_NATIVE_PATH));
  paths.push(resolve(packageRoot, 'build/cmake/Release/eos_native.node'));
  paths.push(resolve(packageRoot, 'build/Release/eos_native.node'));
  return paths;
}

export class NativeLoadError extends Error {
  constructor(readonly attempts: { path: string; reason: string }[]) {
    super(
      'eos-imbalance: could not load the native addon. Tried:\n' +
        attempts.map((a) => `  - ${a.path}: ${a.reason}`).join('\n') +
        `\nBuild it with:${BUILD_COMMAND}`,
    );
    this.name = 'NativeLoadError';
  }
}

const requireNative = createRequire(import.meta.url);

/** Loads the first candidate that works; throws NativeLoadError listing every failure. */
export function loadNative(paths: string[] = candidatePaths()): { addon: NativeAddon; path: string } {
  const attempts: { path: string; reason: string }[] = [];
  for (const path of paths) {
    if (!existsSync(path)) {
      attempts.push({ path, reason: 'file not found' });
      continue;
    }
    try {
      return { addon: requireNative(path) as NativeAddon, path };
    } catch (err) {
      // A binary that loaded but refused to start (its init threw, e.g. a bad EOS_MAX_ISA) is not replaced
      // by a slower one: the user asked for something it cannot do, and must hear why.
      if ((err as { code?: string }).code !== 'ERR_DLOPEN_FAILED') throw err;
      attempts.push({ path, reason: (err as Error).message.split('\n')[0] ?? String(err) });
    }
  }
  throw new NativeLoadError(attempts);
}

let loaded: { addon: NativeAddon; path: string } | undefined;

/** The addon, loaded on first use. */
export function native(): NativeAddon {
  loaded ??= loadNative();
  return loaded.addon;
}

/** Path of the loaded binary (loads it if needed). */
export function nativePath(): string {
  native();
  return loaded!.path;
}
