// The pipeline's steps composed by hand (data, backbone, embed, method) give the numbers runThreePhase gives
// on the same configuration: the orchestrator adds bookkeeping, never a different computation.
import { join } from 'node:path';
import test from 'ava';
import { PRESETS, type RunConfig } from '../lib/pipeline/config.js';
import { embedBackbone } from '../lib/pipeline/embed.js';
import { scoreLogits } from '../lib/pipeline/evaluate.js';
import { fitAndScoreMethod } from '../lib/pipeline/fit-method.js';
import { prepareData } from '../lib/pipeline/prepare-data.js';
import { startRunDirectory } from '../lib/pipeline/run-outputs.js';
import { runPaths } from '../lib/pipeline/run-paths.js';
import { runThreePhase } from '../lib/pipeline/run-three-phase.js';
import { createModel, trainBackbone } from '../lib/pipeline/train-backbone.js';
import { freshOutDir, removeTemporaryFolders, tinyDataset } from './harness-fixtures.js';

test.after.always(removeTemporaryFolders);

test('the steps composed by hand reproduce runThreePhase', async (t) => {
  const quick = structuredClone(PRESETS.quick);
  const config: RunConfig = {
    ...quick,
    dataset: 'npy',
    dataDir: await tinyDataset(),
    imbalance: { type: 'exp', ratio: 4, seed: 0 },
    depth: 8,
    threads: 1,
    phase1: { ...quick.phase1, epochs: 1, batch: 16, warmupEpochs: 0 },
    sampler: 'ros',
    compareWith: ['none'],
    phase3: { ...quick.phase3, epochs: 2, batch: 16 },
    outDir: join(freshOutDir(), 'run'),
  };
  const whole = await runThreePhase(config);

  const byHand = { ...config, outDir: join(freshOutDir(), 'steps') };
  startRunDirectory(runPaths(byHand.outDir), byHand);
  const data = await prepareData(byHand);
  const model = createModel(byHand, data);
  try {
    const backbone = await trainBackbone(byHand, data, model, { emit: () => {} });
    const { embeddings, testLogits } = await embedBackbone(model, data);
    t.deepEqual(
      backbone.p1.history.map((e) => e.loss),
      whole.phase1.history.map((e) => e.loss),
    );
    t.deepEqual(scoreLogits(testLogits, data.test.labels, data.classes), whole.phase1.test);
    for (const name of ['ros', 'none'] as const) {
      const { result } = await fitAndScoreMethod(name, name, embeddings, data, byHand);
      const fromRun = whole.methods.find((m) => m.name === name)!;
      t.deepEqual({ ...result, seconds: null }, { ...fromRun, seconds: null }, name);
    }
  } finally {
    model.dispose();
  }
  t.true(whole.methods.find((m) => m.name === 'ros')!.synthetic > 0, 'ros adds rows');
});
