import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import type { Dataset } from '../lib/data/dataset.js';
import { subsetDataset } from '../lib/data/dataset-ops.js';
import { loadFashionMnist } from '../lib/data/fashion-mnist.js';
import { SGD } from '../lib/defaults.js';
import { ResNet } from '../lib/model/resnet.js';
import { readSafetensors, writeSafetensors } from '../lib/model/safetensors.js';
import { type Phase1Options, trainPhase1 } from '../lib/train/phase1.js';

const spec = { depth: 8, inChannels: 1, inputSize: 8, classes: 3, head: 'linear' as const, seed: 5 };
const normalization = { mean: [0.5], std: [0.3] };

function tinyData(): Dataset {
  const n = 96;
  const images = new Uint8Array(n * 64);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % 3;
    for (let p = 0; p < 64; p++) images[i * 64 + p] = (labels[i] * 80 + ((i * 31 + p * 17) % 60)) % 256;
  }
  return { images, labels, shape: [n, 1, 8, 8], classes: 3 };
}

const options: Phase1Options = {
  ...SGD,
  epochs: 3,
  batch: 16,
  seed: 9,
  loss: 'focal',
  trainRule: 'drw',
  drwEpoch: 2,
};

test('a run aborted mid-epoch and resumed from its checkpoint ends with the bytes of an uninterrupted run', async (t) => {
  const data = tinyData();
  const straight = ResNet.create({ ...spec, normalization });
  const whole = await trainPhase1(straight, data, options);
  t.false(whole.aborted);
  t.is(whole.history.length, 3);

  const checkpointPath = join(mkdtempSync(join(tmpdir(), 'eos-p1-')), 'phase1.safetensors');
  const first = ResNet.create({ ...spec, normalization });
  const controller = new AbortController();
  const aborted = await trainPhase1(first, data, {
    ...options,
    checkpointPath,
    progressEvery: 1,
    signal: controller.signal,
    onProgress: (epoch, p) => {
      if (epoch === 1 && p.batches >= 2) controller.abort();
    },
  });
  t.true(aborted.aborted);
  first.dispose();

  const second = ResNet.create({ ...spec, normalization, seed: 1234 }); // different init: all state comes from the checkpoint
  const resumed = await trainPhase1(second, data, { ...options, checkpointPath, resume: true });
  t.false(resumed.aborted);
  t.is(resumed.resumedFrom?.epoch, 1);
  t.true((resumed.resumedFrom?.batch ?? 0) >= 2);
  const a = straight.stateDict();
  const b = second.stateDict();
  for (const [name, tensor] of a) t.deepEqual(b.get(name)?.data, tensor.data, name);
  t.deepEqual(
    second.momentumState().get('conv1.weight')?.data,
    straight.momentumState().get('conv1.weight')?.data,
  );
});

test('the seconds spent before a resume count: from the checkpoint, or from its epochs in an older checkpoint', async (t) => {
  const data = tinyData();
  const checkpointPath = join(mkdtempSync(join(tmpdir(), 'eos-p1-')), 'phase1.safetensors');
  const controller = new AbortController();
  const first = await trainPhase1(ResNet.create({ ...spec, normalization }), data, {
    ...options,
    checkpointPath,
    signal: controller.signal,
    onEpoch: () => controller.abort(),
  });
  t.true(first.aborted);
  const { tensors, metadata } = readSafetensors(checkpointPath);
  const state = JSON.parse(metadata['eos.train_state']!);
  // The state as saved: all but the write of the checkpoint itself.
  t.true(state.seconds > 0 && state.seconds <= first.seconds);
  t.true(first.seconds >= first.history[0]!.seconds);
  const resume = async () => {
    const r = await trainPhase1(ResNet.create({ ...spec, normalization }), data, {
      ...options,
      checkpointPath,
      resume: true,
    });
    const thisSession = r.history.slice(1).reduce((sum, e) => sum + e.seconds, 0);
    return { r, thisSession };
  };
  const withSeconds = await resume();
  t.true(withSeconds.r.seconds >= state.seconds + withSeconds.thisSession);
  // A checkpoint of an older version, without seconds: its finished epochs' seconds stand in.
  const { seconds: _dropped, ...older } = state;
  writeSafetensors(checkpointPath, Object.fromEntries(tensors), {
    ...metadata,
    'eos.train_state': JSON.stringify(older),
  });
  const legacy = await resume();
  t.true(legacy.r.seconds >= legacy.r.history[0]!.seconds + legacy.thisSession);
  t.true(legacy.r.seconds < state.seconds + legacy.thisSession + 60, 'no time from nowhere');
});

test('resuming with another configuration is refused with a clear message', async (t) => {
  const data = tinyData();
  const checkpointPath = join(mkdtempSync(join(tmpdir(), 'eos-p1-')), 'phase1.safetensors');
  await trainPhase1(ResNet.create({ ...spec, normalization }), data, {
    ...options,
    epochs: 1,
    checkpointPath,
  });
  await t.throwsAsync(
    trainPhase1(ResNet.create({ ...spec, normalization }), data, {
      ...options,
      epochs: 1,
      seed: 10,
      checkpointPath,
      resume: true,
    }),
    { message: /another configuration or data set/ },
  );
});

test('same seed and thread count give bitwise identical weights', async (t) => {
  const data = tinyData();
  const a = ResNet.create({ ...spec, normalization, threads: 2 });
  const b = ResNet.create({ ...spec, normalization, threads: 2 });
  await trainPhase1(a, data, { ...options, epochs: 1 });
  await trainPhase1(b, data, { ...options, epochs: 1 });
  t.deepEqual(a.tensor('layer3.0.conv2.weight'), b.tensor('layer3.0.conv2.weight'));
  t.deepEqual(a.tensor('bn1.running_var'), b.tensor('bn1.running_var'));
});

test('learning works: three epochs on 2,000 Fashion-MNIST images reach > 55% test accuracy (chance is 10%)', async (t) => {
  const { train, test: testSet } = await loadFashionMnist();
  const tr = subsetDataset(
    train,
    Array.from({ length: 2000 }, (_, i) => i),
  );
  const te = subsetDataset(
    testSet,
    Array.from({ length: 1000 }, (_, i) => i),
  );
  const model = ResNet.create({
    depth: 8,
    inChannels: 1,
    inputSize: 28,
    classes: 10,
    head: 'linear',
    seed: 1,
    normalization: { mean: [0.286], std: [0.353] },
  });
  const result = await trainPhase1(model, tr, {
    ...SGD,
    epochs: 3,
    batch: 64,
    // The last epoch at a tenth of the rate lets the batch-norm running statistics settle: without it, eval
    // accuracy of such a young network swings by +-10 points between runs that differ only in rounding.
    schedule: { lr: 0.05, warmupEpochs: 0, steps: [[2, 0.1]] },
  });
  t.true(result.history[2].loss < result.history[0].loss);
  const { logits } = await model.predict({ images: te.images, shape: te.shape });
  let right = 0;
  for (let i = 0; i < 1000; i++) {
    const row = Array.from(logits!.subarray(i * 10, i * 10 + 10));
    if (row.indexOf(Math.max(...row)) === te.labels[i]) right++;
  }
  t.true(right / 1000 > 0.55, `test accuracy ${right / 1000}`);
});

test('a diverging run stops at the first non-finite loss, names the epoch, batch and rate, and keeps the last good checkpoint', async (t) => {
  const data = tinyData();
  const checkpointPath = join(mkdtempSync(join(tmpdir(), 'eos-p1-')), 'phase1.safetensors');
  const model = ResNet.create({ ...spec, normalization });
  // Epoch 1 trains at 0.1; epoch 2 at 0.1 x 1e31, whose first update overflows the weights.
  const schedule = { lr: 0.1, warmupEpochs: 0, steps: [[1, 1e31]] as [number, number][] };
  let afterEpoch1: Buffer | null = null;
  const err = await t.throwsAsync(
    trainPhase1(model, data, {
      ...options,
      schedule,
      checkpointPath,
      onEpoch: (r) => {
        if (r.epoch === 0) afterEpoch1 = readFileSync(checkpointPath);
      },
    }),
  );
  t.is(err?.name, 'TrainingDiverged');
  t.regex(
    err?.message ?? '',
    /^phase 1 diverged: the training loss is not finite at epoch 2 of 3, batch 2 of 6 \(learning rate 1e\+30\); the last good checkpoint \(1 epochs done\) is kept in .*phase1\.safetensors; use a smaller learning rate/,
  );
  t.truthy(afterEpoch1);
  t.true(readFileSync(checkpointPath).equals(afterEpoch1!), 'the diverged state was not written over it');
  model.dispose();
});
