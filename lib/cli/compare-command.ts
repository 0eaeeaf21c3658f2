// `eos compare`: the method-comparison harness (lib/harness/) from the command line: progress lines per
// unit, Ctrl-C stops at the next batch, and the same command again continues where it stopped.
import { type Command, Option } from 'commander';
import { DATASET_NAMES, type DatasetName } from '../data/dataset.js';
import { LIMITS } from '../defaults.js';
import {
  ComparisonAborted,
  type ComparisonEvent,
  type ComparisonSettings,
  DEFAULT_PHASE1_VARIANTS,
  isPhase1Variant,
  makePlan,
  PHASE1_VARIANTS,
  type Phase1Variant,
  reportComparison,
  runComparison,
} from '../harness/index.js';
import { isMethodKey, METHOD_KEYS, type MethodKey } from '../harness/methods.js';
import { markdownTable } from '../harness/render-markdown.js';
import { failureOutcome, metricsTable, progressSummary } from '../harness/report-sections.js';
import { parseShard, type Shard, shardBackbones, shardLabel } from '../harness/shard.js';
import { checkOutputDirectory } from '../io/output-dir.js';
import { BACKEND_CHOICES, type BackendChoice } from '../native.js';
import type { PresetName } from '../pipeline/config.js';
import type { KnnChoice } from '../resample/knn-method.js';
import type { LossName } from '../train/loss-config.js';
import {
  atLeastOne,
  int,
  knnChoice,
  learningRate,
  listOf,
  nonNegative,
  sgdOption,
  threads,
} from './option-parsers.js';
import { configFromFlags } from './run.js';
import { listenForStop } from './stop-signals.js';

const samplerList = (flag: string) => listOf<MethodKey>(flag, METHOD_KEYS, isMethodKey);
const variantList = (flag: string) => listOf<Phase1Variant>(flag, PHASE1_VARIANTS, isPhase1Variant);

interface CompareFlags {
  preset: PresetName;
  dataset?: DatasetName;
  dataDir?: string;
  imbalance?: 'exp' | 'step';
  ratio?: number;
  depth?: number;
  backend?: BackendChoice;
  threads?: number;
  epochs?: number;
  batch?: number;
  lr?: number;
  momentum?: number;
  weightDecay?: number;
  warmup?: number;
  focalGamma?: number;
  kNeighbors?: number;
  knn?: KnnChoice;
  headEpochs?: number;
  headLr?: number;
  headMomentum?: number;
  headWeightDecay?: number;
  headBatch?: number;
  headLoss?: LossName;
  seeds: number;
  backbones: Phase1Variant[];
  samplers: MethodKey[];
  fullBackbones: Phase1Variant[];
  otherSamplers: MethodKey[];
  mainSampler: MethodKey;
  maxTrainPerClass?: number;
  maxTestPerClass?: number;
  out: string;
  reportOnly?: boolean;
  shard?: string;
  shardCount?: string;
  dryRun?: boolean;
}

/** The comparison settings: `eos run`'s configuration from the shared flags, plus the plan's own. */
export function settingsFromFlags(f: CompareFlags): ComparisonSettings {
  const base = configFromFlags({
    preset: f.preset,
    dataset: f.dataset,
    dataDir: f.dataDir,
    imbalance: f.imbalance,
    ratio: f.ratio,
    depth: f.depth,
    backend: f.backend,
    threads: f.threads,
    epochs: f.epochs,
    batch: f.batch,
    lr: f.lr,
    momentum: f.momentum,
    weightDecay: f.weightDecay,
    warmup: f.warmup,
    focalGamma: f.focalGamma,
    kNeighbors: f.kNeighbors,
    knn: f.knn,
    headEpochs: f.headEpochs,
    headLr: f.headLr,
    headMomentum: f.headMomentum,
    headWeightDecay: f.headWeightDecay,
    headBatch: f.headBatch,
    out: f.out,
  });
  return {
    base,
    seeds: f.seeds,
    backbones: f.backbones,
    samplers: f.samplers,
    fullBackbones: f.fullBackbones,
    otherSamplers: f.otherSamplers,
    mainSampler: f.mainSampler,
    headLoss: f.headLoss,
    limits: { maxTrainPerClass: f.maxTrainPerClass, maxTestPerClass: f.maxTestPerClass },
    outDir: f.out,
  };
}

export function addCompareCommand(program: Command): void {
  program
    .command('compare')
    .description(
      'the method-comparison table: phase-1 variants x seeds, each backbone trained once and reused by every ' +
        'sampler; resumable (run the same command again to continue)',
    )
    .addOption(
      new Option('--preset <name>', 'base schedule: quick (20 phase-1 epochs) or paper (200)')
        .choices(['quick', 'paper'])
        .default('quick'),
    )
    .addOption(new Option('--dataset <name>', 'data set (default fashion-mnist)').choices([...DATASET_NAMES]))
    .option('--data-dir <dir>', "folder of the data set files (default for fashion-mnist: Debian's)")
    .addOption(new Option('--imbalance <type>', 'imbalance profile (default exp)').choices(['exp', 'step']))
    .option('--ratio <r>', 'imbalance ratio n_max / n_min (default 100)', atLeastOne('--ratio'))
    .option('--depth <n>', 'ResNet depth 6n+2 (default 32)', int('--depth', 8, LIMITS.depth))
    .addOption(new Option('--backend <name>', 'native backend').choices([...BACKEND_CHOICES]))
    .option('--threads <n>', 'CPU threads (0 = all)', threads('--threads'))
    .option('--epochs <n>', 'phase-1 epochs (every backbone)', int('--epochs', 1, LIMITS.epochs))
    .option('--batch <n>', 'phase-1 batch size', int('--batch', 2, LIMITS.batch))
    .option('--lr <x>', 'phase-1 learning rate', learningRate('--lr'))
    .addOption(sgdOption('momentum', 1))
    .addOption(sgdOption('weightDecay', 1))
    .option('--warmup <n>', 'phase-1 warm-up epochs', int('--warmup', 0, LIMITS.epochs))
    .option('--focal-gamma <g>', 'focal loss gamma', nonNegative('--focal-gamma'))
    .option(
      '--k-neighbors <k>',
      "neighbours for the samplers (default: each method's own; eos-k5 and eos-k20 always use their own k)",
      int('--k-neighbors'),
    )
    .option('--knn <method>', "the samplers' nearest-neighbour search, as eos run --knn", knnChoice('--knn'))
    .option('--head-epochs <n>', 'phase-3 epochs (every sampler)', int('--head-epochs', 1, LIMITS.epochs))
    .option('--head-lr <x>', 'phase-3 learning rate', learningRate('--head-lr'))
    .addOption(sgdOption('momentum', 3))
    .addOption(sgdOption('weightDecay', 3))
    .option('--head-batch <n>', 'phase-3 batch size', int('--head-batch', 1, LIMITS.headBatch))
    .addOption(
      new Option('--head-loss <name>', "phase-3 loss (default: the backbone's phase-1 loss)").choices([
        'ce',
        'focal',
        'ldam',
        'asl',
      ]),
    )
    .option('--seeds <n>', 'seeds; seed i varies the split and the training', int('--seeds'), 3)
    .option(
      '--backbones <list>',
      `phase-1 variants (${PHASE1_VARIANTS.join(',')}; default all but the pixel-space baselines)`,
      variantList('--backbones'),
      [...DEFAULT_PHASE1_VARIANTS],
    )
    .option(
      '--samplers <list>',
      'phase-2 methods on the full backbones: samplers and the EOS ablations eos-half, eos-k5, eos-k20, ' +
        'eos-reference-script-bug',
      samplerList('--samplers'),
      [...METHOD_KEYS],
    )
    .option(
      '--full-backbones <list>',
      'backbones that get every --samplers method',
      variantList('--full-backbones'),
      ['ce'],
    )
    .option(
      '--other-samplers <list>',
      "phase-2 methods on the other backbones ('' for phase 1 only)",
      samplerList('--other-samplers'),
      ['eos'],
    )
    .addOption(
      new Option('--main-sampler <name>', 'the sampler whose synthetic rows give the "after" gap')
        .choices([...METHOD_KEYS])
        .default('eos'),
    )
    .option(
      '--max-train-per-class <n>',
      'n_max of the imbalanced split (a smaller, faster comparison)',
      int('--max-train-per-class'),
    )
    .option('--max-test-per-class <n>', 'test images kept per class', int('--max-test-per-class'))
    .option(
      '--out <dir>',
      'output directory (results store, checkpoints, results.{json,md,html})',
      'runs/compare',
    )
    .option(
      '--report-only',
      'rewrite results.{json,md,html} from the units stored in --out, with the settings stored there ' +
        '(comparison.json; other flags are not used); train nothing',
    )
    .option(
      '--shard <I/N|auto>',
      'run only shard I of N (0 <= I < N): the backbones whose plan index is I mod N, with their samplers, ' +
        'into the shared --out; auto: from a Slurm job array (SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_COUNT, ' +
        'SLURM_ARRAY_TASK_MIN) or a Kubernetes Indexed Job (JOB_COMPLETION_INDEX, with --shard-count or ' +
        'EOS_SHARD_COUNT)',
    )
    .option('--shard-count <n>', 'with --shard auto on Kubernetes: the number of shards (the completions)')
    .option('--dry-run', 'print the units this run (or this --shard) would run, one id a line; train nothing')
    .action(async (flags: CompareFlags) => {
      if (flags.shardCount !== undefined && flags.shard === undefined)
        throw new RangeError('--shard-count goes with --shard auto only');
      // Resolved first: a bad --shard or a missing scheduler variable fails before anything is read or written.
      const shard =
        flags.shard === undefined ? undefined : parseShard(flags.shard, process.env, flags.shardCount);
      if (flags.reportOnly) {
        if (shard !== undefined || flags.dryRun)
          throw new RangeError('--report-only merges every shard: give it without --shard and --dry-run');
        process.exitCode = reportCommand(flags.out);
      } else if (flags.dryRun) process.exitCode = dryRunCommand(settingsFromFlags(flags), shard);
      else process.exitCode = await compareCommand(settingsFromFlags(flags), shard);
    });
}

const quote = (arg: string) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, "'\\''")}'`);

function progressPrinter(settings: ComparisonSettings): (e: ComparisonEvent) => void {
  return (e) => {
    switch (e.kind) {
      case 'plan':
        console.error(
          `eos compare: ${e.shard ? `shard ${e.shard}: ${e.units} of ${e.planUnits}` : e.units} units ` +
            `(${e.trainings} phase-1 trainings); ${e.finished} already stored, ` +
            `${e.trainingsLeft} trainings to go; writing to ${settings.outDir}`,
        );
        break;
      case 'unit-start':
        console.error(
          `[${e.index}/${e.total}] ${e.unit.id}: ` +
            (e.unit.kind === 'phase1'
              ? `${e.action === 'resume' ? 'resuming' : 'training'} phase 1 (ResNet-${settings.base.depth}, ` +
                `${settings.base.phase1.epochs} epoch${settings.base.phase1.epochs === 1 ? '' : 's'})`
              : 'phases 2 + 3'),
        );
        break;
      case 'reload':
        console.error(`${e.unit.id}: phase 1 stored; embedding with the saved phase-1 model`);
        break;
      case 'pipeline':
        if (e.event.kind === 'epoch') {
          const r = e.event.record;
          console.error(
            `  ${e.unit.id} epoch ${r.epoch + 1}/${e.event.epochs}: lr ${r.lr.toPrecision(3)} loss ${r.loss.toFixed(4)} ` +
              `train acc ${(100 * r.accuracy).toFixed(1)}% ${r.imagesPerSecond.toFixed(0)} img/s ${r.seconds.toFixed(1)} s`,
          );
        }
        break;
      case 'unit-done':
        console.error(
          `[${e.index}/${e.total}] ${e.unit.id}: test balanced accuracy ${(100 * e.balancedAccuracy).toFixed(2)}% ` +
            `(${e.seconds.toFixed(1)} s)`,
        );
        break;
      case 'unit-failed':
        console.error(`${e.unit.id} FAILED: ${e.message} ${failureOutcome(e.settled)}`);
        break;
      default:
        break;
    }
  };
}

function reportCommand(outDir: string): number {
  const { report, files } = reportComparison(outDir);
  if (report.partial) {
    console.error(
      `eos compare: partial results: ${progressSummary(report)}; the command that made them continues the ` +
        `comparison:\n  ${report.command}`,
    );
  }
  console.log(`\n${markdownTable(metricsTable(report))}\n`);
  console.log(`Reports: ${files.markdown}, ${files.html}, ${files.json}`);
  return 0;
}

/** The units of the plan (or of one shard) on stdout, one id a line; a summary on stderr. Writes nothing. */
function dryRunCommand(settings: ComparisonSettings, shard?: Shard): number {
  const plan = makePlan(settings);
  checkOutputDirectory(settings.outDir, '--out');
  const backbones = shardBackbones(plan, shard);
  const units = backbones.flatMap((b) => [b.unit, ...b.samplers]);
  console.error(
    `eos compare --dry-run: ${shard ? `shard ${shardLabel(shard)}: ` : ''}${units.length} of ` +
      `${plan.units.length} units (${backbones.length} of ${plan.backbones.length} phase-1 trainings) into ` +
      `${settings.outDir}`,
  );
  for (const u of units) console.log(u.id);
  return 0;
}

export async function compareCommand(settings: ComparisonSettings, shard?: Shard): Promise<number> {
  makePlan(settings); // fails on bad settings before anything is written
  checkOutputDirectory(settings.outDir, '--out');
  const command = `eos ${process.argv.slice(2).map(quote).join(' ')}`;
  const stop = listenForStop('stopping at the next batch and saving a checkpoint');
  try {
    const { report, files, failed } = await runComparison(settings, {
      command,
      signal: stop.signal,
      onEvent: progressPrinter(settings),
      shard,
    });
    console.log(`\n${markdownTable(metricsTable(report))}\n`);
    console.log(`Reports: ${files.markdown}, ${files.html}, ${files.json}`);
    if (report.partial && shard !== undefined)
      console.error(
        `eos: shard ${shardLabel(shard)} is done; the report shows the units stored so far: once every shard ` +
          `is done, merge with: eos compare --out ${quote(settings.outDir)} --report-only`,
      );
    // A unit undefined on its data is an outcome, not an error: only failures a rerun may mend fail the command
    // (this run's own: another shard's failures are that shard's to report).
    const retriable = failed.filter((f) => !f.settled);
    if (retriable.length > 0) {
      console.error(
        `eos: ${retriable.length} units failed (listed in the report); run the command again to retry`,
      );
      return 1;
    }
    return 0;
  } catch (err) {
    if (err instanceof ComparisonAborted) {
      console.error(`eos: ${err.message}:\n  ${command}`);
      console.error(`eos: partial reports: ${err.outcome.files.markdown}, ${err.outcome.files.html}`);
      return stop.exitCode();
    }
    throw err;
  } finally {
    stop.dispose();
  }
}
