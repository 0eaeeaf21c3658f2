// `eos run`: the three-phase pipeline with progress bars, Ctrl-C handling and a results table.

import { SingleBar } from 'cli-progress';
import { type Command, Option } from 'commander';
import { DATASET_NAMES, type DatasetName } from '../data/dataset.js';
import type { ImbalanceType } from '../data/imbalance.js';
import { FOLDER, KNN, LIMITS } from '../defaults.js';
import { ablationHint } from '../harness/methods.js';
import { BACKEND_CHOICES, type BackendChoice, isAbortError, native } from '../native.js';
import { checkRunStart } from '../pipeline/check-run-start.js';
import { PRESETS, type PresetName, type RunConfig, validateConfig } from '../pipeline/config.js';
import { formatSummary } from '../pipeline/report.js';
import { runOnBackbone } from '../pipeline/run-on-backbone.js';
import { runPhase1Only } from '../pipeline/run-phase1-only.js';
import { runThreePhase } from '../pipeline/run-three-phase.js';
import { isSamplerName, SAMPLER_NAMES, type SamplerId } from '../pipeline/samplers.js';
import type { PipelineEvent } from '../pipeline/types.js';
import { type KnnChoice, requireKnnSupport } from '../resample/knn-method.js';
import type { TrainRule } from '../train/class-weights.js';
import type { LossName } from '../train/loss-config.js';
import { type FolderFlags, folderConfig, folderOption } from './folder-options.js';
import { folderProgressBar } from './folder-progress.js';
import {
  atLeastOne,
  fraction,
  int,
  knnChoice,
  learningRate,
  listOf,
  nonNegative,
  numberList,
  oneOf,
  sgdOption,
  threads,
} from './option-parsers.js';
import { listenForStop } from './stop-signals.js';

const LOSSES = ['ce', 'focal', 'ldam', 'asl'];
const RULES = ['none', 'reweight', 'drw', 'resample'];

const samplerList = listOf<SamplerId>('--compare', SAMPLER_NAMES, isSamplerName, ablationHint);

export interface RunFlags extends FolderFlags {
  preset: PresetName;
  dataset?: DatasetName;
  dataDir?: string;
  imbalance?: ImbalanceType;
  ratio?: number;
  splitSeed?: number;
  valFraction?: number;
  depth?: number;
  backend?: BackendChoice;
  threads?: number;
  seed?: number;
  epochs?: number;
  batch?: number;
  lr?: number;
  momentum?: number;
  weightDecay?: number;
  warmup?: number;
  loss?: LossName;
  trainRule?: TrainRule;
  focalGamma?: number;
  sampler?: SamplerId;
  compare?: SamplerId[];
  kNeighbors?: number;
  knn?: KnnChoice;
  headEpochs?: number;
  headLr?: number;
  headMomentum?: number;
  headWeightDecay?: number;
  headBatch?: number;
  headLoss?: LossName;
  headRule?: TrainRule;
  out?: string;
  resume?: boolean;
}

/** The run configuration: the preset, overridden by every flag given. */
export function configFromFlags(f: RunFlags): RunConfig {
  const base = structuredClone(PRESETS[f.preset]);
  const folder = folderConfig(f) ?? base.folder;
  const knn = f.knn ?? base.knn;
  const c: RunConfig = {
    ...base,
    dataset: f.dataset ?? base.dataset,
    dataDir: f.dataDir ?? base.dataDir,
    ...(folder ? { folder } : {}),
    imbalance: {
      // A user's image folder is imbalanced as it is: unless a profile or ratio is asked for, keep it so.
      type: f.imbalance ?? (f.dataset === 'folder' && f.ratio === undefined ? 'none' : base.imbalance.type),
      ratio: f.ratio ?? base.imbalance.ratio,
      seed: f.splitSeed ?? base.imbalance.seed,
    },
    validationFraction: f.valFraction ?? base.validationFraction,
    depth: f.depth ?? base.depth,
    backend: f.backend ?? base.backend,
    threads: f.threads ?? base.threads,
    seed: f.seed ?? base.seed,
    phase1: {
      epochs: f.epochs ?? base.phase1.epochs,
      batch: f.batch ?? base.phase1.batch,
      lr: f.lr ?? base.phase1.lr,
      momentum: f.momentum ?? base.phase1.momentum,
      weightDecay: f.weightDecay ?? base.phase1.weightDecay,
      warmupEpochs: f.warmup ?? Math.min(base.phase1.warmupEpochs, (f.epochs ?? base.phase1.epochs) - 1),
      loss: f.loss ?? base.phase1.loss,
      trainRule: f.trainRule ?? base.phase1.trainRule,
      focalGamma: f.focalGamma ?? base.phase1.focalGamma,
    },
    sampler: f.sampler ?? base.sampler,
    compareWith: f.compare ?? base.compareWith,
    kNeighbors: f.kNeighbors ?? base.kNeighbors,
    ...(knn === undefined ? {} : { knn }),
    phase3: {
      epochs: f.headEpochs ?? base.phase3.epochs,
      batch: f.headBatch ?? base.phase3.batch,
      lr: f.headLr ?? base.phase3.lr,
      momentum: f.headMomentum ?? base.phase3.momentum,
      weightDecay: f.headWeightDecay ?? base.phase3.weightDecay,
      warmupEpochs: base.phase3.warmupEpochs,
      loss: f.headLoss ?? f.loss ?? base.phase3.loss,
      trainRule: f.headRule ?? base.phase3.trainRule,
    },
    outDir: f.out ?? base.outDir,
  };
  validateConfig(c);
  return c;
}

/** The configuration of the flags, checked as a run checks it before any work, with the flags' names. */
export function checkedConfig(flags: RunFlags): RunConfig {
  const config = configFromFlags(flags);
  checkRunStart(
    config,
    { resume: flags.resume },
    { outDir: '--out', resume: '--resume', backend: '--backend' },
  );
  // Before phase 1, not after it: an approximate search on a build without libfaiss cannot run.
  requireKnnSupport(config.knn, native().info(), '--knn');
  return config;
}

/** The flags shared by `eos run` and `eos train`. */
function addRunOptions(command: Command): Command {
  return command
    .addOption(
      new Option('--preset <name>', 'quick (about 15 min on 2 cores) or paper (200 epochs)')
        .choices(['quick', 'paper'])
        .default('quick'),
    )
    .addOption(new Option('--dataset <name>', 'data set').choices([...DATASET_NAMES]))
    .option('--data-dir <dir>', "folder of the data set files (default for fashion-mnist: Debian's)")
    .addOption(folderOption('imageSize'))
    .addOption(folderOption('channels'))
    .addOption(folderOption('testFraction'))
    .addOption(folderOption('skipBadImages'))
    .addOption(
      new Option(
        '--imbalance <type>',
        "imbalance profile: exp, step, or none (the data's own counts; the default for --dataset folder)",
      ).choices(['exp', 'step', 'none']),
    )
    .option('--ratio <r>', 'imbalance ratio n_max / n_min', atLeastOne('--ratio'))
    .option(
      '--split-seed <n>',
      "seed of the imbalanced subset (and of an image folder's test split)",
      int('--split-seed', 0, LIMITS.seed),
    )
    .option(
      '--val-fraction <f>',
      'validation fraction carved from the training set (reported, never the test set)',
      fraction('--val-fraction'),
    )
    .option('--depth <n>', 'ResNet depth 6n+2', int('--depth', 8, LIMITS.depth))
    .addOption(new Option('--backend <name>', 'native backend').choices([...BACKEND_CHOICES]))
    .option('--threads <n>', 'CPU threads (0 = all)', threads('--threads'))
    .option('--seed <n>', 'training seed', int('--seed', 0, LIMITS.seed))
    .option('--epochs <n>', 'phase-1 epochs', int('--epochs', 1, LIMITS.epochs))
    .option('--batch <n>', 'phase-1 batch size', int('--batch', 2, LIMITS.batch))
    .option('--lr <x>', 'phase-1 learning rate', learningRate('--lr'))
    .addOption(sgdOption('momentum', 1))
    .addOption(sgdOption('weightDecay', 1))
    .option('--warmup <n>', 'phase-1 warm-up epochs', int('--warmup', 0, LIMITS.epochs))
    .addOption(new Option('--loss <name>', 'loss for phases 1 and 3').choices(LOSSES))
    .addOption(new Option('--train-rule <name>', 'phase-1 train rule').choices(RULES))
    .option('--focal-gamma <g>', 'focal loss gamma', nonNegative('--focal-gamma'))
    .addOption(
      new Option('--sampler <name>', 'main phase-2 method')
        .choices([...SAMPLER_NAMES])
        .argParser(oneOf(SAMPLER_NAMES, isSamplerName, ablationHint)),
    )
    .option('--compare <list>', 'other phase-2 methods on the same backbone (comma-separated)', samplerList)
    .option('--k-neighbors <k>', 'neighbours for the sampler', int('--k-neighbors'))
    .option(
      '--knn <method>',
      'nearest-neighbour search of the samplers: exact (default), ivf, hnsw (approximate, libfaiss; ' +
        'parameters as hnsw:m=32,efSearch=64 or ivf:nlist=1024,nprobe=16) or auto (exact up to ' +
        `${KNN.autoExactMaxRows.toLocaleString('en-US')} rows, else ${KNN.autoApproximate})`,
      knnChoice('--knn'),
    )
    .option('--head-epochs <n>', 'phase-3 epochs', int('--head-epochs', 1, LIMITS.epochs))
    .option('--head-lr <x>', 'phase-3 learning rate', learningRate('--head-lr'))
    .addOption(sgdOption('momentum', 3))
    .addOption(sgdOption('weightDecay', 3))
    .option('--head-batch <n>', 'phase-3 batch size', int('--head-batch', 1, LIMITS.headBatch))
    .addOption(new Option('--head-loss <name>', 'phase-3 loss (default: the phase-1 loss)').choices(LOSSES))
    .addOption(new Option('--head-rule <name>', 'phase-3 train rule').choices(RULES))
    .option('--out <dir>', 'output directory (config.json, checkpoints, results, models)')
    .option('--resume', 'continue from the checkpoint in --out');
}

export function addRunCommand(program: Command): void {
  addRunOptions(
    program
      .command('run')
      .description(
        'the three-phase pipeline (default: Fashion-MNIST, exp ratio 100, ResNet-32, EOS vs none/ROS/SMOTE)',
      ),
  )
    .option(
      '--backbone <model.onnx>',
      "phases 2-3 on this ONNX model's embeddings instead of training phase 1",
    )
    .option('--embedding-output <name>', "the backbone's embedding output (default: its only output)")
    .option(
      '--input-size <n>',
      'resize the images to n x n for the backbone (bilinear)',
      int('--input-size', 1, FOLDER.maxImageSize),
    )
    .option(
      '--mean <list>',
      "the backbone's per-channel input mean of pixel/255 (default 0)",
      numberList('--mean'),
    )
    .option(
      '--std <list>',
      "the backbone's per-channel input std of pixel/255 (default 1)",
      numberList('--std'),
    )
    .action(async (flags: RunFlags & BackboneFlags) => {
      if (flags.backbone === undefined) {
        for (const flag of ['embeddingOutput', 'inputSize', 'mean', 'std'] as const)
          if (flags[flag] !== undefined)
            throw new Error(`--${flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} needs --backbone`);
      } else {
        // Phase 1 is the backbone: its flags would be silently without effect.
        const phase1Flags = {
          resume: '--resume',
          depth: '--depth',
          epochs: '--epochs',
          batch: '--batch',
          lr: '--lr',
          momentum: '--momentum',
          weightDecay: '--weight-decay',
          warmup: '--warmup',
          trainRule: '--train-rule',
          focalGamma: '--focal-gamma',
          backend: '--backend',
        } as const;
        for (const [key, flag] of Object.entries(phase1Flags))
          if (flags[key as keyof typeof phase1Flags] !== undefined)
            throw new Error(`${flag} sets phase 1, which a run on --backbone does not train`);
      }
      const config = checkedConfig(flags);
      process.exitCode = await runCommand(config, flags.resume ?? false, flags.backbone ? flags : undefined);
    });
  addRunOptions(
    program
      .command('train')
      .description('phase 1 only: train the CNN, writing checkpoints and the phase-1 model'),
  ).action(async (flags: RunFlags) => {
    process.exitCode = await runCommand(checkedConfig(flags), flags.resume ?? false, 'phase1');
  });
}

interface BackboneFlags {
  backbone?: string;
  embeddingOutput?: string;
  inputSize?: number;
  mean?: number[];
  std?: number[];
}

/** A run: the three phases; phase 1 only (`eos train`); or phases 2-3 on an ONNX backbone (`--backbone`). */
async function runCommand(
  config: RunConfig,
  resume: boolean,
  only?: 'phase1' | BackboneFlags,
): Promise<number> {
  const stop = listenForStop(
    typeof only === 'object' ? 'stopping' : 'stopping at the next batch and saving a checkpoint',
  );
  // A live bar only on a terminal; otherwise one line per epoch (logs stay readable).
  const bar = process.stderr.isTTY
    ? new SingleBar({
        format:
          'phase 1 | epoch {epoch}/{epochs} | {bar} | batch {value}/{total} | loss {loss} | acc {acc}% | {ips} img/s | ETA {eta_formatted}',
        hideCursor: true,
        clearOnComplete: true,
        etaBuffer: 50,
      })
    : null;
  const dataBar = folderProgressBar();
  let barEpoch = -1;
  let epochStart = performance.now();
  const onEvent = (e: PipelineEvent) => {
    if (e.kind === 'data') {
      dataBar.onProgress(e);
    } else if (e.kind === 'phase') {
      bar?.stop();
      console.error(`eos: ${e.message}`);
    } else if (e.kind === 'batch' && bar) {
      if (e.epoch !== barEpoch) {
        bar.stop();
        bar.start(e.batchesTotal, 0, { epoch: e.epoch + 1, epochs: e.epochs, loss: '-', acc: '-', ips: '-' });
        barEpoch = e.epoch;
        epochStart = performance.now();
      }
      const seconds = Math.max((performance.now() - epochStart) / 1000, 1e-3);
      bar.update(e.batches, {
        loss: e.loss.toFixed(3),
        acc: (100 * e.accuracy).toFixed(1),
        ips: ((e.batches * config.phase1.batch) / seconds).toFixed(0),
      });
    } else if (e.kind === 'epoch') {
      bar?.stop();
      barEpoch = -1;
      const r = e.record;
      console.error(
        `phase 1 epoch ${r.epoch + 1}/${e.epochs}: lr ${r.lr.toPrecision(3)} loss ${r.loss.toFixed(4)} ` +
          `train acc ${(100 * r.accuracy).toFixed(1)}% ${r.imagesPerSecond.toFixed(0)} img/s ${r.seconds.toFixed(1)} s`,
      );
    } else if (e.kind === 'method') {
      console.error(`phase 2+3 ${e.name}: test balanced accuracy ${(100 * e.balancedAccuracy).toFixed(2)}%`);
    } else if (e.kind === 'method-failed') {
      bar?.stop();
      console.error(`eos: comparison method ${e.name} fails on this data and is left out: ${e.message}`);
    }
  };
  try {
    if (typeof only === 'object') {
      const r = await runOnBackbone(
        config,
        {
          model: only.backbone!,
          embeddingOutput: only.embeddingOutput,
          inputSize: only.inputSize,
          mean: only.mean,
          std: only.std,
        },
        { signal: stop.signal, onEvent },
      );
      console.log(`\n${formatSummary(r)}\n`);
      console.log(
        `Full report: ${r.files.report}; head: ${r.files.head}; backbone + head: ${r.files.onnx}; ` +
          `${r.seconds.total.toFixed(0)} s in all.`,
      );
      return 0;
    }
    if (only === 'phase1') {
      const r = await runPhase1Only(config, { resume, signal: stop.signal, onEvent });
      console.log(
        `phase 1 done (${r.seconds.toFixed(0)} s): ${r.files.phase1Model}; checkpoint ${r.files.checkpoint}`,
      );
      return 0;
    }
    const result = await runThreePhase(config, { resume, signal: stop.signal, onEvent });
    console.log(`\n${formatSummary(result)}\n`);
    console.log(
      `Full report: ${result.files.report}; models: ${result.files.model}, ${result.files.onnx}; ` +
        `${result.seconds.total.toFixed(0)} s in all.`,
    );
    return 0;
  } catch (err) {
    bar?.stop();
    if (isAbortError(err)) {
      if (typeof only === 'object') {
        console.error('eos: interrupted (phases 2-3 take seconds: run the same command again)');
        return stop.exitCode();
      }
      console.error(`eos: interrupted. Resume with the same options plus: --resume --out ${config.outDir}`);
      return stop.exitCode();
    }
    throw err;
  } finally {
    dataBar.stop();
    stop.dispose();
  }
}
