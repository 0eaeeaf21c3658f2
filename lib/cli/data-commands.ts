// `eos embed`, `eos resample`, `eos evaluate`: the phases one at a time, on files.

import { type Command, Option } from 'commander';
import { DATASET_NAMES, type DatasetName, loadDataset } from '../data/dataset.js';
import { describeSkipped } from '../data/folder-bad-images.js';
import type { FolderTrainTest } from '../data/folder-types.js';
import { readNpyLabels, readNpyMatrix } from '../data/npy.js';
import { writeNpy } from '../data/npy-write.js';
import { LIMITS } from '../defaults.js';
import { checkOutputFile } from '../io/output-dir.js';
import { ResNet } from '../model/resnet.js';
import { scoreLogits } from '../pipeline/evaluate.js';
import { resampleWith, SAMPLER_NAMES, type SamplerName } from '../pipeline/samplers.js';
import { type FolderFlags, folderConfig, folderOption } from './folder-options.js';
import { folderProgressBar } from './folder-progress.js';
import { int } from './option-parsers.js';

const pct = (v: number) => (100 * v).toFixed(2);

function datasetOptions(command: Command): Command {
  return command
    .addOption(
      new Option('--dataset <name>', 'data set').choices([...DATASET_NAMES]).default('fashion-mnist'),
    )
    .option('--data-dir <dir>', 'folder of the data set files')
    .addOption(folderOption('imageSize'))
    .addOption(folderOption('channels'))
    .addOption(folderOption('testFraction'))
    .addOption(folderOption('skipBadImages'))
    .option(
      '--split-seed <n>',
      "folder, single <class>/ tree: seed of the test split (the run's --split-seed)",
      int('--split-seed', 0, LIMITS.seed),
    )
    .addOption(
      new Option('--part <part>', 'which part of the data set').choices(['train', 'test']).default('test'),
    );
}

interface DatasetFlags extends FolderFlags {
  dataset: DatasetName;
  dataDir?: string;
  splitSeed?: number;
  part: 'train' | 'test';
}

async function datasetPart(opts: DatasetFlags) {
  const folder = opts.dataset === 'folder';
  if (opts.splitSeed !== undefined && !folder)
    throw new Error('--split-seed applies to image folders only (--dataset folder)');
  const progress = folder ? folderProgressBar() : null;
  try {
    const data = await loadDataset(opts.dataset, {
      dataDir: opts.dataDir,
      ...folderConfig(opts),
      ...(folder ? { splitSeed: opts.splitSeed, onProgress: progress?.onProgress } : {}),
    });
    const skipped = (data as Partial<FolderTrainTest>).skipped ?? [];
    if (skipped.length > 0) console.error(`note: ${describeSkipped(skipped)}`);
    return opts.part === 'train' ? data.train : data.test;
  } finally {
    progress?.stop();
  }
}

export function addDataCommands(program: Command): void {
  datasetOptions(
    program
      .command('embed')
      .description('64-d embeddings of a data set part (eval mode, no augmentation) as NPY')
      .requiredOption('-m, --model <file>', 'model written by eos run/train (safetensors)')
      .requiredOption('-o, --out <file>', 'embeddings NPY (N x 64 float32); labels go to <out>.labels.npy'),
  ).action(async (opts) => {
    // The cheap checks first: the model and the output place, then the data set, then the long work.
    checkOutputFile(opts.out, '--out');
    const model = ResNet.load(opts.model);
    try {
      const part = await datasetPart(opts);
      const embeddings = await model.embed({ images: part.images, shape: part.shape });
      await writeNpy(opts.out, embeddings, [part.labels.length, 64]);
      await writeNpy(`${opts.out.replace(/\.npy$/, '')}.labels.npy`, part.labels, [part.labels.length]);
      console.log(`wrote ${part.labels.length} x 64 embeddings to ${opts.out}`);
    } finally {
      model.dispose();
    }
  });

  program
    .command('resample')
    .description('over-sample an embedding matrix (NPY, N x d float32) with a phase-2 method')
    .requiredOption('-e, --embeddings <file>', 'N x d float32 NPY')
    .requiredOption('-l, --labels <file>', 'N int labels NPY')
    .addOption(new Option('--sampler <name>', 'method').choices([...SAMPLER_NAMES]).default('eos'))
    .option('--k-neighbors <k>', 'neighbours', int('--k-neighbors'))
    .option('--seed <n>', 'seed', int('--seed', 0), 0)
    .requiredOption(
      '-o, --out <file>',
      'resampled NPY; labels to <out>.labels.npy, provenance to <out>.provenance.npy',
    )
    .action(
      async (opts: {
        embeddings: string;
        labels: string;
        sampler: SamplerName;
        kNeighbors?: number;
        seed: number;
        out: string;
      }) => {
        checkOutputFile(opts.out, '--out');
        const x = await readNpyMatrix(opts.embeddings);
        const y = await readNpyLabels(opts.labels);
        if (y.length !== x.rows)
          throw new Error(`${opts.labels} has ${y.length} labels for ${x.rows} embedding rows`);
        const r = await resampleWith(opts.sampler, x.data, y, x.cols, {
          seed: opts.seed,
          kNeighbors: opts.kNeighbors,
        });
        const stem = opts.out.replace(/\.npy$/, '');
        await writeNpy(opts.out, r.x, [r.y.length, r.d]);
        await writeNpy(`${stem}.labels.npy`, r.y, [r.y.length]);
        const m = r.provenance.base.length;
        const provenance = new Float32Array(m * 3);
        for (let i = 0; i < m; i++) {
          provenance[3 * i] = r.provenance.base[i];
          provenance[3 * i + 1] = r.provenance.partner[i];
          provenance[3 * i + 2] = r.provenance.coefficient[i];
        }
        await writeNpy(`${stem}.provenance.npy`, provenance, [m, 3]);
        for (const f of r.fallbacks) console.error(`note: ${f.message}`);
        console.log(`${opts.sampler}: ${x.rows} rows + ${m} synthetic -> ${opts.out}`);
      },
    );

  datasetOptions(
    program
      .command('evaluate')
      .description('test metrics of a model (balanced accuracy, gm, gmMacro, F1, per-class accuracy)')
      .requiredOption('-m, --model <file>', 'model written by eos run/train (safetensors)')
      .option('--json', 'print the metrics as JSON'),
  ).action(async (opts) => {
    const model = ResNet.load(opts.model);
    try {
      const part = await datasetPart(opts);
      const { logits } = await model.predict({ images: part.images, shape: part.shape });
      const m = scoreLogits(logits!, part.labels, part.classes);
      if (opts.json) {
        console.log(JSON.stringify(m, null, 2));
        return;
      }
      console.log(
        `balanced accuracy ${pct(m.balancedAccuracy)}%  gm ${pct(m.gm)}%  gmMacro ${pct(m.gmMacro)}%  ` +
          `macro F1 ${pct(m.macroF1)}%  accuracy ${pct(m.accuracy)}%`,
      );
      console.log(`per-class accuracy: ${m.perClassAccuracy.map(pct).join(' ')}`);
    } finally {
      model.dispose();
    }
  });
}
