// `eos fit-head`: phases 2 and 3 on embeddings from elsewhere (NPY files), with the run's phase-2 and phase-3
// flags; writes head.safetensors, results.json and results.md into --out.
import { type Command, Option } from 'commander';
import { LIMITS } from '../defaults.js';
import { ablationHint } from '../harness/methods.js';
import { fitHeadOnFiles } from '../pipeline/fit-head-files.js';
import { formatSummary } from '../pipeline/report.js';
import { isSamplerName, SAMPLER_NAMES, type SamplerId } from '../pipeline/samplers.js';
import type { LossName } from '../train/loss-config.js';
import { int, learningRate, listOf, oneOf, sgdOption, threads } from './option-parsers.js';
import { checkedConfig } from './run.js';

interface FitHeadFlags {
  embeddings: string;
  labels: string;
  testEmbeddings: string;
  testLabels: string;
  sampler?: SamplerId;
  compare?: SamplerId[];
  kNeighbors?: number;
  headEpochs?: number;
  headLr?: number;
  headMomentum?: number;
  headWeightDecay?: number;
  headBatch?: number;
  headLoss?: LossName;
  seed?: number;
  threads?: number;
  out: string;
}

export function addFitHeadCommand(program: Command): void {
  program
    .command('fit-head')
    .description('phases 2-3 on embeddings computed elsewhere (NPY): every sampler, a fresh head each')
    .requiredOption('-e, --embeddings <file>', 'training embeddings, N x D float32 NPY')
    .requiredOption('-l, --labels <file>', 'training labels, N integers NPY (0..C-1, every class present)')
    .requiredOption('--test-embeddings <file>', 'test embeddings, M x D float32 NPY')
    .requiredOption('--test-labels <file>', 'test labels, M integers NPY')
    .addOption(
      new Option('--sampler <name>', 'main phase-2 method')
        .choices([...SAMPLER_NAMES])
        .argParser(oneOf(SAMPLER_NAMES, isSamplerName, ablationHint)),
    )
    .option(
      '--compare <list>',
      'other phase-2 methods (comma-separated)',
      listOf('--compare', SAMPLER_NAMES, isSamplerName),
    )
    .option('--k-neighbors <k>', 'neighbours for the samplers', int('--k-neighbors'))
    .option('--head-epochs <n>', 'phase-3 epochs', int('--head-epochs', 1, LIMITS.epochs))
    .option('--head-lr <x>', 'phase-3 learning rate', learningRate('--head-lr'))
    .addOption(sgdOption('momentum', 3))
    .addOption(sgdOption('weightDecay', 3))
    .option('--head-batch <n>', 'phase-3 batch size', int('--head-batch', 1, LIMITS.headBatch))
    .addOption(new Option('--head-loss <name>', 'phase-3 loss').choices(['ce', 'focal', 'ldam', 'asl']))
    .option('--seed <n>', 'seed of the samplers and the head', int('--seed', 0, LIMITS.seed))
    .option('--threads <n>', 'CPU threads (0 = all)', threads('--threads'))
    .requiredOption('--out <dir>', 'output directory (head.safetensors, results.json, results.md)')
    .action(async (f: FitHeadFlags) => {
      const config = checkedConfig({
        preset: 'quick',
        sampler: f.sampler,
        compare: f.compare,
        kNeighbors: f.kNeighbors,
        headEpochs: f.headEpochs,
        headLr: f.headLr,
        headMomentum: f.headMomentum,
        headWeightDecay: f.headWeightDecay,
        headBatch: f.headBatch,
        headLoss: f.headLoss,
        seed: f.seed,
        threads: f.threads,
        out: f.out,
      });
      const r = await fitHeadOnFiles(
        config,
        { train: f.embeddings, trainLabels: f.labels, test: f.testEmbeddings, testLabels: f.testLabels },
        {
          onEvent: (e) => {
            if (e.kind === 'method-failed')
              console.error(
                `eos: comparison method ${e.name} fails on this data and is left out: ${e.message}`,
              );
          },
        },
      );
      console.log(`\n${formatSummary(r)}\n`);
      console.log(
        `Full report: ${r.files.report}; head: ${r.files.head}; ${r.seconds.total.toFixed(1)} s in all.`,
      );
    });
}
