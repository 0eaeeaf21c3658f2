import test from 'ava';
import { PHASE3, SGD } from '../lib/defaults.js';
import { native } from '../lib/native.js';
import { fineTuneHead, headLogits } from '../lib/train/fine-tune-head.js';

/** Three Gaussian blobs in 8-d, 60 points each (seeded LCG). */
function blobs(perClass = 60, dim = 8): { x: Float32Array; y: Int32Array } {
  let s = 7;
  const rnd = () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31 - 0.5;
  };
  const x = new Float32Array(3 * perClass * dim);
  const y = new Int32Array(3 * perClass);
  for (let i = 0; i < 3 * perClass; i++) {
    y[i] = i % 3;
    for (let d = 0; d < dim; d++) x[i * dim + d] = (d === y[i] ? 2 : 0) + rnd();
  }
  return { x, y };
}

function accuracy(logits: Float32Array, y: Int32Array, k: number): number {
  let right = 0;
  for (let i = 0; i < y.length; i++) {
    const row = Array.from(logits.subarray(i * k, (i + 1) * k));
    if (row.indexOf(Math.max(...row)) === y[i]) right++;
  }
  return right / y.length;
}

test('one full-batch SGD step equals the closed-form cross-entropy gradient step', async (t) => {
  const x = Float32Array.of(1, 0, 2, 0, 1, -1, 0.5, 0.5, 0, -1, 2, 1);
  const y = Int32Array.of(0, 1, 1, 0);
  const w = Float32Array.of(0.1, -0.2, 0.3, -0.1, 0.2, 0.05);
  const b = Float32Array.of(0.01, -0.02);
  const lr = 0.5;
  const out = await native().trainHead(
    x,
    y,
    Int32Array.of(0, 1, 2, 3),
    {
      head: 'linear',
      dim: 3,
      classes: 2,
      batch: 4,
      epochs: 1,
      lrPerEpoch: [lr],
      weightsPerEpoch: [null],
      loss: { kind: 'ce' },
      momentum: 0,
      weightDecay: 0,
      nesterov: false,
      seed: 0,
      threads: 0,
      backend: 'auto',
    },
    { weight: w, bias: b },
  );
  const gw = new Float64Array(6);
  const gb = new Float64Array(2);
  let loss = 0;
  for (let n = 0; n < 4; n++) {
    const z = [0, 1].map((k) => b[k] + [0, 1, 2].reduce((a, i) => a + w[k * 3 + i] * x[n * 3 + i], 0));
    const m = Math.max(...z);
    const e = z.map((v) => Math.exp(v - m));
    const p = e.map((v) => v / (e[0] + e[1]));
    loss -= Math.log(p[y[n]]) / 4;
    for (let k = 0; k < 2; k++) {
      const g = (p[k] - (k === y[n] ? 1 : 0)) / 4;
      gb[k] += g;
      for (let i = 0; i < 3; i++) gw[k * 3 + i] += g * x[n * 3 + i];
    }
  }
  for (let i = 0; i < 6; i++) t.true(Math.abs(out.weight[i] - (w[i] - lr * gw[i])) < 1e-6);
  for (let k = 0; k < 2; k++) t.true(Math.abs(out.bias![k] - (b[k] - lr * gb[k])) < 1e-6);
  t.true(Math.abs(out.losses[0] - loss) < 1e-6);
});

for (const head of ['linear', 'cosine'] as const) {
  for (const loss of ['ce', 'focal', 'ldam', 'asl'] as const) {
    test(`a ${head} head learns separable blobs with the ${loss} loss, deterministically`, async (t) => {
      const { x, y } = blobs();
      const options = { ...SGD, head, loss, epochs: 15, batch: 32, seed: 3 };
      const trained = await fineTuneHead(x, y, 3, options);
      t.true(trained.losses[trained.losses.length - 1] < trained.losses[0], `losses ${trained.losses}`);
      t.true(accuracy(headLogits(trained, x), y, 3) > 0.95);
      const again = await fineTuneHead(x, y, 3, options);
      t.deepEqual(again.weight, trained.weight);
      t.is(trained.bias === null, head === 'cosine');
    });
  }
}

test('reweight and resample rules run and change the result', async (t) => {
  const { x, y } = blobs();
  const plain = await fineTuneHead(x, y, 3, { ...SGD, epochs: 3, batch: PHASE3.batch, seed: 1 });
  const resampled = await fineTuneHead(x, y, 3, {
    ...SGD,
    epochs: 3,
    batch: PHASE3.batch,
    seed: 1,
    trainRule: 'resample',
  });
  const reweighted = await fineTuneHead(x, y, 3, {
    ...SGD,
    epochs: 3,
    batch: PHASE3.batch,
    seed: 1,
    trainRule: 'reweight',
  });
  t.notDeepEqual(plain.weight, resampled.weight);
  t.true(reweighted.losses.every(Number.isFinite));
});

test('an aborted fine-tuning rejects with AbortError', async (t) => {
  const { x, y } = blobs(2000);
  const controller = new AbortController();
  const run = fineTuneHead(x, y, 3, { ...SGD, epochs: 200, batch: 4, signal: controller.signal });
  controller.abort();
  await t.throwsAsync(run, { name: 'AbortError', message: 'trainHead was aborted' });
});

test('bad arguments to trainHead and headLogits throw errors naming the argument', (t) => {
  const x = new Float32Array(8);
  const y = Int32Array.of(0, 1);
  const cfg = {
    head: 'linear' as const,
    dim: 4,
    classes: 2,
    batch: 2,
    epochs: 1,
    lrPerEpoch: [0.1],
    weightsPerEpoch: [null],
    loss: { kind: 'ce' as const },
    momentum: 0.9,
    weightDecay: 2e-4,
    nesterov: false,
    seed: 0,
    threads: 0,
    backend: 'auto' as const,
  };
  const o = Int32Array.of(0, 1);
  const n = native();
  t.throws(() => n.trainHead(x, y, o, { ...cfg, dim: 3 }), {
    message: /x must hold N rows of config.dim = 3/,
  });
  t.throws(() => n.trainHead(x, Int32Array.of(0, 2), o, cfg), {
    message: /labels\[1\] = 2 is outside \[0, 2\)/,
  });
  t.throws(() => n.trainHead(x, y, Int32Array.of(0, 5), cfg), {
    message: /orders\[1\] = 5 is not a row of x/,
  });
  t.throws(() => n.trainHead(x, y, o, { ...cfg, lrPerEpoch: [Number.NaN] }), {
    message: /config.lrPerEpoch\[0\] must be a finite number/,
  });
  t.throws(() => n.trainHead(x, y, o, { ...cfg, batch: 0 }), { message: /config.batch must be in \[1,/ });
  t.throws(() => n.trainHead(x, y, o, { ...cfg, head: 'mlp' as 'linear' }), {
    message: /config.head must be 'linear' or 'cosine'/,
  });
  t.throws(() => n.trainHead(x, y, o, { ...cfg, loss: { kind: 'hinge' } as never }), {
    message: /config.loss.kind must be/,
  });
  t.throws(() => n.trainHead(x, y, o, { ...cfg, loss: { kind: 'ldam' } as never }), {
    message: /config.loss.classCounts must be an array of 2/,
  });
  t.throws(() => n.trainHead(Float32Array.of(0, 0, 0, Number.NaN, 0, 0, 0, 0), y, o, cfg), {
    message: /x row 0 holds a non-finite value/,
  });
  t.throws(() => n.trainHead(x, y, o, cfg, { weight: new Float32Array(3) }), {
    message: /init.weight must have length 8/,
  });
  t.throws(
    () => n.headLogits(x, { kind: 'linear', dim: 4, classes: 2, weight: new Float32Array(8), bias: null }),
    {
      message: /head.bias must be a Float32Array/,
    },
  );
  t.throws(
    () =>
      n.headLogits(new Float32Array(5), { kind: 'cosine', dim: 4, classes: 2, weight: new Float32Array(8) }),
    {
      message: /x must hold whole rows of head.dim = 4/,
    },
  );
});
