// kNN's `device` option through the addon and kNearest: an addon built without CUDA refuses device 'cuda'
// saying so (synchronously for the sync form, as a rejection for the promise forms); one built with CUDA
// either answers as the CPU does (a GPU is there) or rejects naming what is missing; a bad device name is a
// RangeError naming options.device; device 'cpu' is the default.
import test from 'ava';
import { native } from '../lib/native.js';
import { kNearest } from '../lib/resample/knn.js';

/** n x d seeded uniform values (a linear congruential generator: distinct rows, reproducible). */
function rows(n: number, d: number): Float32Array {
  let s = 12345;
  return Float32Array.from({ length: n * d }, () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 4294967296;
  });
}

test('device cpu is the default and gives the same answer', async (t) => {
  const x = rows(40, 5);
  const plain = await kNearest(x, 5, 3, { excludeSelf: true });
  const cpu = await kNearest(x, 5, 3, { excludeSelf: true, device: 'cpu' });
  t.deepEqual(cpu.indices, plain.indices);
  t.deepEqual(cpu.distances, plain.distances);
});

test('a bad device name is a RangeError naming options.device', (t) => {
  const x = rows(10, 2);
  t.throws(() => native().knnSearchSync(x, null, 2, 1, { device: 'gpu' as 'cuda' }), {
    instanceOf: RangeError,
    message: /options\.device must be 'cpu' or 'cuda', got 'gpu'/,
  });
  t.throws(() => native().knnSearchSync(x, null, 2, 1, { device: 1 as unknown as 'cuda' }), {
    instanceOf: TypeError,
    message: /options\.device/,
  });
});

test('device cuda: refused clearly without CUDA, else the CPU answer or a rejection saying what is missing', async (t) => {
  const x = rows(300, 7);
  if (!native().info().cuda) {
    const refusal = /options\.device 'cuda': this addon was built without CUDA/;
    t.throws(() => native().knnSearchSync(x, null, 7, 4, { device: 'cuda' }), { message: refusal });
    await t.throwsAsync(async () => native().knnSearch(x, null, 7, 4, { device: 'cuda' }), {
      message: refusal,
    });
    await t.throwsAsync(kNearest(x, 7, 4, { device: 'cuda' }), { message: refusal });
    return;
  }
  const cpu = await kNearest(x, 7, 4, { excludeSelf: true });
  try {
    const gpu = await kNearest(x, 7, 4, { excludeSelf: true, device: 'cuda' });
    t.deepEqual(gpu.indices, cpu.indices);
    t.deepEqual(gpu.distances, cpu.distances);
  } catch (e) {
    t.regex((e as Error).message, /device 'cuda': no (usable )?CUDA device/);
  }
});
