import test from 'ava';
import { native } from '../lib/native.js';

const N = 6;
const C = 2;
const H = 5;
const W = 7;
const SIZE = C * H * W;
const images = Uint8Array.from({ length: N * SIZE }, (_, i) => (i * 37 + 11) % 256);
const mean = [0.25, 0.5];
const std = [0.5, 0.2];
const shape: [number, number, number, number] = [N, C, H, W];

/** Reference transform in TS: crop window at (oy, ox) of the image zero-padded by `pad`, optional flip. */
function reference(index: number, pad: number, oy: number, ox: number, flip: boolean): Float32Array {
  const out = new Float32Array(SIZE);
  for (let c = 0; c < C; c++) {
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const sy = y + oy - pad;
        const sx = (flip ? W - 1 - x : x) + ox - pad;
        const inside = sy >= 0 && sy < H && sx >= 0 && sx < W;
        const pixel = inside ? images[index * SIZE + c * H * W + sy * W + sx] : 0;
        out[c * H * W + y * W + x] = (pixel / 255 - mean[c]) / std[c];
      }
    }
  }
  return out;
}

function close(a: Float32Array, b: Float32Array): boolean {
  return a.every((v, i) => Math.abs(v - b[i]) <= 1e-5 * Math.max(1, Math.abs(b[i])));
}

function augment(indices: number[], opts: Record<string, unknown> = {}): Float32Array {
  const out = new Float32Array(indices.length * SIZE);
  native().augmentBatch(images, shape, Int32Array.from(indices), out, { mean, std, ...opts });
  return out;
}

test('normalizeBatch is (pixel/255 - mean)/std per channel, no crop, no flip', (t) => {
  const out = new Float32Array(2 * SIZE);
  native().normalizeBatch(images, shape, new Int32Array([4, 1]), out, { mean, std });
  t.true(close(out.subarray(0, SIZE), reference(4, 0, 0, 0, false)));
  t.true(close(out.subarray(SIZE), reference(1, 0, 0, 0, false)));
});

test('every augmented sample is exactly one crop-and-flip of its zero-padded image', (t) => {
  const pad = 2;
  const seen = new Set<string>();
  for (let epoch = 0; epoch < 40; epoch++) {
    const indices = [0, 1, 2, 3, 4, 5];
    const out = augment(indices, { pad, epoch, seed: 7 });
    indices.forEach((index, b) => {
      const got = out.subarray(b * SIZE, (b + 1) * SIZE);
      let match: string | undefined;
      for (let oy = 0; oy <= 2 * pad && !match; oy++) {
        for (let ox = 0; ox <= 2 * pad && !match; ox++) {
          for (const flip of [false, true]) {
            if (close(got, reference(index, pad, oy, ox, flip))) match = `${oy},${ox},${flip}`;
          }
        }
      }
      t.truthy(match, `sample ${index} epoch ${epoch} is not a valid crop/flip`);
      if (match) seen.add(match);
    });
  }
  // 240 draws over 50 possible transforms: a kernel that never flips or never moves cannot get here.
  t.true([...seen].some((m) => m.endsWith('true')) && [...seen].some((m) => m.endsWith('false')));
  t.true(seen.size >= 30, `only ${seen.size} distinct transforms in 240 draws`);
});

test('draws depend on (seed, epoch, image index), not on the position in the batch', (t) => {
  const a = augment([5, 3, 0], { seed: 1, epoch: 2 });
  const b = augment([0, 5, 3], { seed: 1, epoch: 2 });
  t.deepEqual(a.subarray(0, SIZE), b.subarray(SIZE, 2 * SIZE));
  t.deepEqual(a.subarray(SIZE, 2 * SIZE), b.subarray(2 * SIZE));
  t.deepEqual(
    augment([0, 1, 2, 3, 4, 5], { seed: 1, epoch: 2 }),
    augment([0, 1, 2, 3, 4, 5], { seed: 1, epoch: 2 }),
  );
  t.notDeepEqual(
    augment([0, 1, 2, 3, 4, 5], { seed: 1, epoch: 2 }),
    augment([0, 1, 2, 3, 4, 5], { seed: 1, epoch: 3 }),
  );
  t.notDeepEqual(
    augment([0, 1, 2, 3, 4, 5], { seed: 1, epoch: 2 }),
    augment([0, 1, 2, 3, 4, 5], { seed: 2, epoch: 2 }),
  );
});

test('thread count does not change the result', (t) => {
  const idx = [0, 1, 2, 3, 4, 5, 0, 1, 2];
  t.deepEqual(augment(idx, { seed: 3, threads: 1 }), augment(idx, { seed: 3, threads: 2 }));
});

test('pad 0 and flip false reduce augmentation to normalisation', (t) => {
  t.true(close(augment([3], { pad: 0, flip: false }), reference(3, 0, 0, 0, false)));
});

test('bad arguments throw errors that name the argument', (t) => {
  const out = new Float32Array(SIZE);
  const call = (args: unknown[]) => () => (native().augmentBatch as (...a: unknown[]) => void)(...args);
  const idx = new Int32Array([0]);
  const opts = { mean, std };
  t.throws(call([new Float32Array(N * SIZE), shape, idx, out, opts]), {
    instanceOf: TypeError,
    message: /images must be a Uint8Array/,
  });
  t.throws(call([images.subarray(1), shape, idx, out, opts]), {
    instanceOf: RangeError,
    message: /images must have length 420/,
  });
  t.throws(call([images, [N, C, H], idx, out, opts]), {
    instanceOf: TypeError,
    message: /shape must be an array \[N, C, H, W\]/,
  });
  t.throws(call([images, [N, 0, H, W], idx, out, opts]), {
    instanceOf: RangeError,
    message: /shape\[1\] \(C\)/,
  });
  t.throws(call([images, [N, C, 2.5, W], idx, out, opts]), {
    instanceOf: TypeError,
    message: /shape\[2\] \(H\) must be an integer/,
  });
  t.throws(call([images, shape, new Int32Array([0, 6]), new Float32Array(2 * SIZE), opts]), {
    instanceOf: RangeError,
    message: /indices\[1\] = 6 is outside \[0, 6\)/,
  });
  t.throws(call([images, shape, new Int32Array([-1]), out, opts]), { message: /indices\[0\] = -1/ });
  t.throws(call([images, shape, new Int32Array(0), out, opts]), {
    instanceOf: RangeError,
    message: /indices must not be empty/,
  });
  t.throws(call([images, shape, idx, new Float32Array(SIZE - 1), opts]), {
    instanceOf: RangeError,
    message: /out must have length 70/,
  });
  t.throws(call([images, shape, idx, out, { mean: [0.5], std }]), {
    instanceOf: RangeError,
    message: /options.mean must have 2 values, got 1/,
  });
  t.throws(call([images, shape, idx, out, { mean, std: [1, 0] }]), {
    instanceOf: RangeError,
    message: /options.std\[1\] must be > 0/,
  });
  t.throws(call([images, shape, idx, out, { mean: [0, Number.NaN], std }]), {
    instanceOf: RangeError,
    message: /options.mean\[1\] must be a finite number/,
  });
  t.throws(call([images, shape, idx, out, { mean, std, pad: -1 }]), {
    instanceOf: RangeError,
    message: /options.pad/,
  });
  t.throws(call([images, shape, idx, out, { mean, std, flip: 'yes' }]), {
    instanceOf: TypeError,
    message: /options.flip must be a boolean/,
  });
  t.throws(call([images, shape, idx, out]), {
    instanceOf: TypeError,
    message: /expected \(images, shape, indices, out, options\)/,
  });
  t.throws(call([images, shape, idx, out, 3]), {
    instanceOf: TypeError,
    message: /options must be an object/,
  });
});
