// Every hyperparameter default of a run, and the run presets built from them: the one place these values
// are written. RunConfig (lib/pipeline/config.ts) takes its presets from here, the CLI's flags override them,
// and the training layers below (lib/train/phase1.ts, lib/train/fine-tune-head.ts) take each value as a
// required option. It sits at the root of lib/ (and imports only types) so that any layer, a test or a
// benchmark can read these numbers without depending on the pipeline.
import { availableParallelism } from 'node:os';
import type { DatasetName } from './data/dataset.js';
import type { ImbalanceType } from './data/imbalance.js';
import type { BackendChoice } from './native.js';
import type { RunConfig } from './pipeline/run-config.js';
import type { SamplerName } from './pipeline/sampler-names.js';
import type { TrainRule } from './train/class-weights.js';
import type { LossName } from './train/loss-name.js';

/** SGD of both phases, as the paper and its reference code: momentum 0.9, weight decay 2e-4. */
export const SGD = { momentum: 0.9, weightDecay: 2e-4 } as const;

/** Images (phase 1) or embeddings (phase 3) per SGD step. */
export const BATCH = 128;

/** Images per eval-mode forward (embedding, prediction): no gradient, so larger batches than training. */
export const INFERENCE_BATCH = 256;

/** Batches between progress reports of a training epoch. */
export const PROGRESS_EVERY = 10;

/** The losses' own parameters: focal gamma; LDAM's largest margin and logit scale; ASL's focusing and shift. */
export const LOSS = {
  focalGamma: 1,
  ldam: { maxMargin: 0.5, scale: 30 },
  asl: { gammaPos: 0, gammaNeg: 4, eps: 0.1 },
} as const;

/** Phase 1 (end-to-end CNN training); the epochs and warm-up differ by preset (PRESETS). */
export const PHASE1 = {
  batch: BATCH,
  lr: 0.1,
  momentum: SGD.momentum,
  weightDecay: SGD.weightDecay,
  /** Warm-up epochs of the paper's 200-epoch schedule (the quick preset warms up over 2 of its 20). */
  warmupEpochs: 5,
  loss: 'ce' as LossName,
  trainRule: 'none' as TrainRule,
  focalGamma: LOSS.focalGamma,
} as const;

/** Softmax temperature of a served cosine head: LDAM's logit scale, which the head was trained with. */
export const COSINE_LOGIT_SCALE = LOSS.ldam.scale;

/** Phase-1 augmentation: random crop from a zero-padded image, random horizontal flip. */
export const AUGMENTATION = { pad: 4, flip: true } as const;

/** Phase 3 (a fresh head on the frozen backbone's embeddings): 10 epochs, 5-epoch warm-up, no lr step. */
export const PHASE3 = {
  epochs: 10,
  batch: BATCH,
  lr: 0.1,
  momentum: SGD.momentum,
  weightDecay: SGD.weightDecay,
  warmupEpochs: 5,
  loss: 'ce' as LossName,
  trainRule: 'none' as TrainRule,
} as const;

/**
 * Image folders (--dataset folder): a single DIR/<class>/ tree gives each class's `testFraction` (rounded, at
 * least one image) to the test set; `maxImageSize` bounds --image-size and the images' own size (a CIFAR ResNet
 * on larger inputs is a typo, and 10,000 such RGB images would need 500 GB).
 */
export const FOLDER = { testFraction: 0.2, maxImageSize: 4096 } as const;

/** Neighbours of each phase-2 sampler when the run sets none (EOS: the paper's 10; the others: imbalanced-learn's 5). */
export const K_NEIGHBORS: Readonly<Record<Exclude<SamplerName, 'none' | 'ros'>, number>> = {
  smote: 5,
  bsmote1: 5,
  bsmote2: 5,
  adasyn: 5,
  eos: 10,
};

/**
 * Nearest-neighbour search of the samplers (lib/resample/knn-method.ts). `auto` searches exactly up to
 * `autoExactMaxRows` base rows and with `autoApproximate` beyond. The exact search is quadratic in the rows:
 * on 2 cores (AVX512-BF16) the exact self-search takes 1.2 s on the 60,000 Fashion-MNIST embeddings of the
 * shipped backbone and 8 s on 1e5 class-structured synthetic rows (bench/knn-approx.ts), so about 3 minutes
 * at 5e5, 15 at 1e6 and a day at 1e7; every data set of the paper stays exact, as the paper searched.
 * IVF is the approximate default: its build is parallel and still deterministic, and its scan is the exact
 * kernel's (native/knn/approx_knn.h). IVF lists are 4 sqrt(N) (faiss's guidance is 4 to 16 sqrt(N)), and the
 * lists probed grow with them, one per 128 lists and at least 16: the recall of a fixed probe count falls as
 * the lists multiply (bench/knn-approx.ts, 2 Zen 3 cores, class-structured rows of intrinsic dimension 64, the
 * hard case: at 1e6 rows, 4,000 lists, recall@10 0.788 with 16 probes in 69 s, 0.981 with 32 in 99 s, 1.000
 * with 64 in 170 s, against an exact search of at most 1,100 s; at 1e7 with 16 probes 0.527), while a fixed
 * fraction of lists keeps it. HNSW's are faiss's usual parameters with efSearch raised from faiss's 16 to 64;
 * at 1e5 it reached recall 0.955 in 39 s where IVF reached 0.9997 in 5.4 s (its build runs on one thread).
 */
export const KNN = {
  method: 'exact' as const,
  autoExactMaxRows: 500_000,
  autoApproximate: 'ivf' as const,
  ivf: { listsPerSqrtRow: 4, listsPerProbe: 128, minProbes: 16 },
  hnsw: { m: 32, efConstruction: 40, efSearch: 64 },
} as const;

/** IVF lists for a base of `rows` rows when none is asked for: 4 sqrt(rows), at least 1 and at most rows. */
export function ivfListsFor(rows: number): number {
  return Math.max(1, Math.min(rows, Math.round(KNN.ivf.listsPerSqrtRow * Math.sqrt(rows))));
}

/** IVF lists probed per query when none is asked for: one per 128 of the `nlist` lists, at least 16, at most nlist. */
export function ivfProbesFor(nlist: number): number {
  return Math.min(nlist, Math.max(KNN.ivf.minProbes, Math.round(nlist / KNN.ivf.listsPerProbe)));
}

/**
 * The ranges a sensible run stays in, checked before any work starts (lib/pipeline/config.ts for the library,
 * lib/cli/option-parsers.ts for the flags): a value outside them is a typo or a run that cannot end well.
 */
export const LIMITS = {
  /** Threads per logical core: beyond a few, threads only wait on each other (1009 on 2 cores never progressed). */
  threadsPerCore: 4,
  /** Largest learning rate of either phase: 100 x the paper's 0.1; beyond it SGD overflows on any data set. */
  learningRate: 10,
  /** Deepest ResNet: He et al.'s ResNet-1202, the deepest of their CIFAR networks. */
  depth: 1202,
  /** Phase-1 and phase-3 epochs. */
  epochs: 100_000,
  /** Images per phase-1 step (the native engine's bound) and embeddings per phase-3 step. */
  batch: 65_536,
  headBatch: 1 << 20,
  /** Classes of a data set: ImageNet-21k has 21,841; a label far beyond is a corrupt file, not a class. */
  classes: 100_000,
  /** Approximate search: HNSW links per node and candidate lists (faiss's own bounds are looser). */
  hnswM: 1024,
  hnswEf: 65_536,
  /** Training and split seeds: the epoch order's generator is seeded by seed x 2^20 + epoch (sample-order.ts). */
  seed: 2 ** 32 - 1,
  /** Any other count: integers that JSON and JavaScript hold exactly. */
  integer: Number.MAX_SAFE_INTEGER,
} as const;

/** The most threads a run may ask for on this machine (0 asks for one per core). */
export function maxThreads(): number {
  return availableParallelism() * LIMITS.threadsPerCore;
}

export type PresetName = 'quick' | 'paper';

const common = {
  dataset: 'fashion-mnist' as DatasetName,
  imbalance: { type: 'exp' as ImbalanceType, ratio: 100, seed: 0 },
  validationFraction: 0,
  depth: 32,
  backend: 'auto' as BackendChoice,
  threads: 0,
  seed: 0,
  sampler: 'eos' as SamplerName,
  phase3: { ...PHASE3 },
  outDir: 'runs/latest',
};

export const PRESETS: Record<PresetName, RunConfig> = {
  // Fits 15 minutes on 2 CPU cores with the oneDNN backend (about 25 s per epoch of Fashion-MNIST-LT):
  // 20 phase-1 epochs with the paper's schedule shape (warm-up, x0.01 at 80%, x0.0001 at 90%), the rest as the paper.
  quick: {
    ...common,
    phase1: { epochs: 20, ...PHASE1, warmupEpochs: 2 },
    compareWith: ['none', 'ros', 'smote'],
  },
  // The paper's schedule: 200 epochs, 5-epoch warm-up, x0.01 at 160 and x0.0001 at 180.
  paper: {
    ...common,
    phase1: { epochs: 200, ...PHASE1 },
    compareWith: ['none', 'ros', 'smote', 'bsmote1', 'bsmote2', 'adasyn'],
  },
};
