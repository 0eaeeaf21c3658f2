// Bad input to the native network never crashes the process: each gives a JS error naming the argument.
import test from 'ava';
import { ResNet } from '../lib/model/resnet.js';
import { native } from '../lib/native.js';

const spec = {
  depth: 8,
  inChannels: 1,
  inputSize: 8,
  classes: 3,
  head: 'linear' as const,
  seed: 0,
  backend: 'auto' as const,
  threads: 0,
};
const N = 6;
const images = new Uint8Array(N * 64).fill(7);
const labels = Int32Array.of(0, 1, 2, 0, 1, 2);
const order = Int32Array.of(0, 1, 2, 3, 4, 5);
const shape: [number, number, number, number] = [N, 1, 8, 8];
const config = {
  batch: 3,
  lr: 0.1,
  momentum: 0.9,
  weightDecay: 2e-4,
  nesterov: false,
  loss: { kind: 'ce' as const },
  classWeights: null as number[] | null,
  mean: [0.5],
  std: [0.5],
  augment: true,
  pad: 4,
  flip: true,
  seed: 0,
  epoch: 0,
  progressEvery: 10,
};
const eval_ = { batch: 256, mean: [0.5], std: [0.5], logits: true, embeddings: false };

test('bad network specs are refused with the field named', (t) => {
  const { NativeNetwork } = native();
  t.throws(() => new NativeNetwork({ ...spec, inputSize: 7 }), {
    message: /spec.inputSize must be in \[8, 4096\], got 7/,
  });
  t.throws(() => new NativeNetwork({ ...spec, depth: 9 }), { message: /depth must be 6n \+ 2/ });
  t.throws(() => new NativeNetwork({ ...spec, classes: 1 }), { message: /spec.classes must be in \[2,/ });
  t.throws(() => new NativeNetwork({ ...spec, head: 'mlp' as 'linear' }), {
    message: /spec.head must be 'linear' or 'cosine'/,
  });
  t.throws(() => new NativeNetwork(undefined as never), { message: /spec must be an object/ });
  t.throws(() => ResNet.create({ ...spec, inputSize: 4, head: 'linear' }), {
    message: /spec.inputSize must be an integer >= 8, got 4/,
  });
});

test('bad trainEpoch and predict arguments reject with the argument named', async (t) => {
  const { NativeNetwork } = native();
  const net = new NativeNetwork(spec);
  const call = (f: () => unknown) => () => f();
  t.throws(
    call(() => net.trainEpoch(images.subarray(1), shape, labels, order, config)),
    { message: /images must have length 384, got 383/ },
  );
  t.throws(
    call(() => net.trainEpoch(new Float32Array(384) as never, shape, labels, order, config)),
    { message: /images must be a Uint8Array/ },
  );
  t.throws(
    call(() => net.trainEpoch(images, [N, 3, 8, 8], labels, order, config)),
    { message: /shape\[1\] \(C, the network's inChannels\) must be in \[1, 1\]/ },
  );
  t.throws(
    call(() => net.trainEpoch(images, shape, Int32Array.of(0, 1, 2, 0, 1, 3), order, config)),
    { message: /labels\[5\] = 3 is outside \[0, 3\)/ },
  );
  t.throws(
    call(() => net.trainEpoch(images, shape, labels, Int32Array.of(0, 9), config)),
    { message: /order\[1\] = 9 is not an image index/ },
  );
  t.throws(
    call(() => net.trainEpoch(images, shape, labels, order, { ...config, lr: Number.NaN })),
    { message: /config.lr must be a finite number/ },
  );
  t.throws(
    call(() => net.trainEpoch(images, shape, labels, order, { ...config, batch: 0 })),
    { message: /config.batch must be in \[2,/ },
  );
  t.throws(
    call(() => net.trainEpoch(images, shape, labels, order, { ...config, std: [0] })),
    { message: /config.std\[0\] must be > 0/ },
  );
  t.throws(
    call(() => net.trainEpoch(images, shape, labels, order, { ...config, classWeights: [1, 1] })),
    { message: /config.classWeights must have 3 values/ },
  );
  t.throws(
    call(() => net.trainEpoch(images, shape, labels, order, config, 'nope' as never)),
    { message: /onProgress must be a function/ },
  );
  t.throws(
    call(() => net.predict(images, shape, Int32Array.of(6), eval_)),
    { message: /indices\[0\] = 6 is not an image index/ },
  );
  t.throws(
    call(() => net.predict(images, shape, null, { ...eval_, logits: false })),
    { message: /ask for logits, embeddings or both/ },
  );
  t.throws(
    call(() => net.setParameters(new Float32Array(3))),
    { message: /parameters must have length/ },
  );
  const params = net.getParameters();
  params[10] = Number.POSITIVE_INFINITY;
  t.throws(
    call(() => net.setParameters(params)),
    { message: /parameters\[10\] is not finite/ },
  );

  // Busy while training, usable again afterwards; a disposed network refuses everything.
  const running = net.trainEpoch(images, shape, labels, order, config);
  t.throws(() => net.getParameters(), { message: /the network is busy/ });
  const result = await running;
  t.is(result.images, N);
  t.is(net.getParameters().length, params.length);
  net.dispose();
  t.throws(
    call(() => net.trainEpoch(images, shape, labels, order, config)),
    { message: /the network is disposed/ },
  );
  t.throws(
    call(() => net.predict(images, shape, null, eval_)),
    { message: /disposed/ },
  );
});

test('ResNet gets and sets tensors by PyTorch name', (t) => {
  const model = ResNet.create({ ...spec, head: 'linear' });
  const w = model.tensor('layer2.0.conv1.weight');
  t.is(w.length, 32 * 16 * 9);
  model.setTensor(
    'layer2.0.conv1.weight',
    w.map((v) => v * 2),
  );
  t.deepEqual(
    model.tensor('layer2.0.conv1.weight'),
    w.map((v) => v * 2),
  );
  model.setTensor('bn1.running_var', new Float32Array(16).fill(3));
  t.deepEqual(model.tensor('bn1.running_var'), new Float32Array(16).fill(3));
  t.throws(() => model.setTensor('conv9.weight', w), { message: /no tensor named conv9.weight/ });
  t.throws(() => model.setTensor('bn1.weight', new Float32Array(3)), {
    message: /bn1.weight has 16 values, got 3/,
  });
  model.dispose();
  t.throws(() => model.tensor('bn1.weight'), { message: /disposed/ });
});

test('a stop flag set before the work starts rejects predict with AbortError; the network stays usable', async (t) => {
  const model = ResNet.create({ ...spec, head: 'linear', seed: 0, threads: 1 });
  const data = { images, shape };
  const controller = new AbortController();
  controller.abort();
  await t.throwsAsync(model.predict(data, { signal: controller.signal }), {
    name: 'AbortError',
    message: 'predict was aborted',
  });
  const { logits } = await model.predict(data);
  t.is(logits?.length, N * spec.classes, 'not left busy by the aborted call');
});
