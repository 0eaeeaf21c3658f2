// Seeded fuzzing of the file readers (IDX raw and gzipped, CIFAR binary, NPY, safetensors): small valid files,
// truncated, with bytes flipped (anywhere or in the header), or with bytes appended, before or after gzip.
// Every case must either load a well-formed result (sizes consistent with the shape, labels in range) or
// throw an Error whose message names the file: never a crash, a hang, a non-Error, or a bare RangeError
// from Buffer or DataView internals. The files are a few kilobytes, so every case is bounded in time; an
// async case that takes longer than a few seconds is reported as a hang anyway.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import test, { type ExecutionContext } from 'ava';
import { readCifarBatch } from '../lib/data/cifar.js';
import { DataFileError } from '../lib/data/errors.js';
import { readIdxImages, readIdxLabels } from '../lib/data/idx.js';
import { readNpyImages, readNpyLabels, readNpyMatrix } from '../lib/data/npy.js';
import { encodeNpy } from '../lib/data/npy-write.js';
import { readSafetensors, writeSafetensors } from '../lib/model/safetensors.js';
import { Xoshiro128 } from '../lib/random.js';

const CASES = Number(process.env.EOS_FUZZ_CASES ?? 300); // per reader (raise it to explore)
const HANG_MS = 5000;

const dir = mkdtempSync(join(tmpdir(), 'eos-fuzz-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));
const fixtures = fileURLToPath(new URL('../../test/fixtures/npy/', import.meta.url));

const product = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** An IDX file: magic 0x0000080<dims.length>, big-endian sizes, then `data`. */
function idx(dims: number[], data: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, 0x0800 | dims.length);
  for (const [i, d] of dims.entries()) view.setUint32(4 + 4 * i, d);
  out.set(data, 4 + 4 * dims.length);
  return out;
}

/** One malformed variant of `base`; `header` is how many leading bytes are the format's header. */
function mutate(base: Uint8Array, header: number, rng: Xoshiro128): { bytes: Uint8Array; how: string } {
  const kind = rng.below(5);
  if (kind === 0) {
    const length = rng.below(base.length);
    return { bytes: base.slice(0, length), how: `truncated to ${length} bytes` };
  }
  if (kind === 1) {
    const extra = 1 + rng.below(64);
    const bytes = new Uint8Array(base.length + extra);
    bytes.set(base);
    for (let i = base.length; i < bytes.length; i++) bytes[i] = rng.below(256);
    return { bytes, how: `${extra} bytes appended` };
  }
  const bytes = base.slice();
  const flips: string[] = [];
  const count = 1 + rng.below(4);
  for (let f = 0; f < count; f++) {
    // kind 2: anywhere; 3 and 4: in the header, where a flipped byte changes sizes, types and magic numbers.
    const at = kind === 2 ? rng.below(bytes.length) : rng.below(Math.min(header, bytes.length));
    const mask = kind === 4 ? 1 << rng.below(8) : 1 + rng.below(255);
    bytes[at] ^= mask;
    flips.push(`${at}^${mask}`);
  }
  if (kind === 4 && rng.below(2) === 0) {
    const length = rng.below(bytes.length);
    return { bytes: bytes.slice(0, length), how: `flipped ${flips.join(', ')}, truncated to ${length}` };
  }
  return { bytes, how: `flipped ${flips.join(', ')}` };
}

/** Values a header field should not hold, to put in one. */
const ODD_VALUES: unknown[] = [
  null,
  [],
  {},
  -1,
  0,
  1.5,
  1e300,
  2 ** 53 + 2,
  'F32',
  'toString',
  '__proto__',
  [0],
  [0, 1e9],
  [8, 4],
  [-4, 0],
  { dtype: 'F32' },
  { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
];

const pick = <T>(values: readonly T[], rng: Xoshiro128): T => values[rng.below(values.length)];

/** `data` behind a safetensors header made of `json` (its length field correct). */
function safetensorsWith(json: string, data: Uint8Array): Uint8Array {
  const text = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + text.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
  out.set(text, 8);
  out.set(data, 8 + text.length);
  return out;
}

/** The safetensors file `bytes` with one node of its header JSON (or the whole header) replaced by an odd value. */
function rewriteSafetensors(bytes: Uint8Array, rng: Xoshiro128): { bytes: Uint8Array; how: string } {
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length)));
  const data = bytes.subarray(8 + length);
  const value = pick(ODD_VALUES, rng);
  const nodes: { parent: Record<string, unknown>; key: string; at: string }[] = [];
  const walk = (node: unknown, at: string) => {
    if (typeof node !== 'object' || node === null) return;
    for (const [key, child] of Object.entries(node)) {
      nodes.push({ parent: node as Record<string, unknown>, key, at: `${at}/${key}` });
      walk(child, `${at}/${key}`);
    }
  };
  walk(header, '');
  if (rng.below(8) === 0) {
    return { bytes: safetensorsWith(JSON.stringify(value), data), how: `header = ${JSON.stringify(value)}` };
  }
  const node = pick(nodes, rng);
  node.parent[node.key] = value;
  return {
    bytes: safetensorsWith(JSON.stringify(header), data),
    how: `${node.at} = ${JSON.stringify(value)}`,
  };
}

/** An NPY file with the data of `base` behind a header dict of random descr, fortran_order and shape. */
function rewriteNpy(base: Uint8Array, rng: Xoshiro128): { bytes: Uint8Array; how: string } {
  const major = base[6];
  const headerStart = major === 1 ? 10 : 12;
  const view = new DataView(base.buffer, base.byteOffset);
  const dataStart = headerStart + (major === 1 ? view.getUint16(8, true) : view.getUint32(8, true));
  const descr = pick(
    ['<u1', '|u1', '|i1', '<i4', '<i8', '<f4', '<f8', '>f8', '<c8', 'u1', '', '<U3', '|b1'],
    rng,
  );
  const dims = Array.from({ length: rng.below(6) }, () =>
    pick([0, 1, 2, 3, 4, 5, 12, 2 ** 31, 2 ** 32 + 1, 1e20, -1], rng),
  );
  const shape = dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
  const fortran = pick(['False', 'True', '0'], rng);
  let dict = `{'descr': '${descr}', 'fortran_order': ${fortran}, 'shape': ${shape}, }`;
  dict += `${' '.repeat(63 - ((headerStart + dict.length) % 64))}\n`;
  const text = new TextEncoder().encode(dict);
  const out = new Uint8Array(headerStart + text.length + base.length - dataStart);
  out.set(base.subarray(0, headerStart));
  const outView = new DataView(out.buffer);
  if (major === 1) outView.setUint16(8, text.length, true);
  else outView.setUint32(8, text.length, true);
  out.set(text, headerStart);
  out.set(base.subarray(dataStart), headerStart + text.length);
  return { bytes: out, how: `header ${dict.trim()}` };
}

/** A file that loaded into something malformed. */
class Malformed extends Error {}

/** Throws Malformed (with `property`) unless `ok`. */
type Expect = (ok: boolean, property: string) => void;
const expect: Expect = (ok, property) => {
  if (!ok) throw new Malformed(property);
};

interface Base {
  name: string;
  bytes: Uint8Array;
  header: number;
  /** A variant with a well-framed but wrong header (odd values where the format wants others), sometimes. */
  rewrite?: (rng: Xoshiro128) => { bytes: Uint8Array; how: string };
  /** Reads the file at `path` and checks, with `expect`, that the result is well-formed. */
  read: (path: string, expect: Expect) => Promise<void> | void;
}

interface Tally {
  loaded: number;
  refused: number;
}

/** Runs `CASES` mutations over `bases` (gzipping some before or after mutating) and checks each outcome. */
async function fuzz(t: ExecutionContext, seed: number, bases: Base[], gzip: boolean): Promise<Tally> {
  const rng = new Xoshiro128(seed);
  const tally: Tally = { loaded: 0, refused: 0 };
  for (let i = 0; i < CASES; i++) {
    const base = bases[i % bases.length];
    // Gzip the valid file and mutate the stream, or mutate the file and gzip it (a sound stream over bad
    // data), or neither.
    const mode = gzip ? rng.below(3) : 0;
    const source = mode === 1 ? gzipSync(base.bytes) : base.bytes;
    const { bytes: mutated, how } =
      mode !== 1 && base.rewrite !== undefined && rng.below(3) === 0
        ? base.rewrite(rng)
        : mutate(source, mode === 1 ? 24 : base.header, rng);
    const bytes = mode === 2 ? gzipSync(mutated) : mutated;
    const path = join(dir, `${base.name}-${seed}-${i}`);
    writeFileSync(path, bytes);
    const what = `seed ${seed} case ${i}: ${base.name}${['', ', gzipped then', ', then gzipped'][mode]} ${how}`;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        Promise.resolve().then(() => base.read(path, expect)),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`HANG: ${what}`)), HANG_MS);
        }),
      ]);
      tally.loaded++;
    } catch (err) {
      tally.refused++;
      if (err instanceof Malformed) {
        t.fail(`${what}: loaded, but not ${err.message}`);
        continue;
      }
      if (!(err instanceof Error)) {
        t.fail(`${what}: threw a non-Error ${String(err)}`);
        continue;
      }
      if (err.message.startsWith('HANG:')) {
        t.fail(err.message);
        continue;
      }
      if (!err.message.split('\n')[0].includes(path)) {
        t.fail(`${what}: message does not name the file: ${err.name}: ${err.message}`);
      }
    } finally {
      clearTimeout(timer);
      rmSync(path, { force: true });
    }
  }
  return tally;
}

/** The data readers throw DataFileError, never another Error type, for a bad file. */
function dataErrorsOnly<T>(read: () => Promise<T>): Promise<T> {
  return read().catch((err: unknown) => {
    if (err instanceof DataFileError) throw err;
    throw new Error(`not a DataFileError: ${(err as Error)?.name}: ${(err as Error)?.message}`);
  });
}

test('IDX images and labels, raw and gzipped', async (t) => {
  const images: Base = {
    name: 'images.idx',
    bytes: idx(
      [3, 5, 4],
      Array.from({ length: 60 }, (_, i) => (i * 37) % 256),
    ),
    header: 16,
    read: async (path, expect) => {
      const { images: pixels, shape } = await dataErrorsOnly(() => readIdxImages(path));
      expect(
        shape.length === 4 && shape[1] === 1 && shape.every((s) => Number.isInteger(s) && s > 0),
        'N x 1 x H x W',
      );
      expect(pixels.length === product(shape), 'as many pixels as the shape holds');
    },
  };
  const labels: Base = {
    name: 'labels.idx',
    bytes: idx([12], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 3, 1]),
    header: 8,
    read: async (path, expect) => {
      const values = await dataErrorsOnly(() => readIdxLabels(path, 10));
      expect(values instanceof Int32Array && values.length > 0, 'a non-empty Int32Array');
      expect(
        values.every((v) => v >= 0 && v < 10),
        'labels in [0, 10)',
      );
    },
  };
  const tally = await fuzz(t, 1, [images, labels], true);
  t.true(tally.loaded > 0 && tally.refused > 0, JSON.stringify(tally));
});

test('CIFAR-10 and CIFAR-100 binary batches of 3 records, raw and gzipped', async (t) => {
  const batch = (labelBytes: number[][]) => {
    const record = labelBytes[0].length + 3072;
    const out = new Uint8Array(labelBytes.length * record);
    labelBytes.forEach((l, r) => {
      out.set(l, r * record);
      for (let i = 0; i < 3072; i++) out[r * record + l.length + i] = (r * 31 + i * 7) % 256;
    });
    return out;
  };
  const check =
    (variant: 'cifar10' | 'cifar100', classes: number) => async (path: string, expect: Expect) => {
      const data = await dataErrorsOnly(() => readCifarBatch(path, { variant }));
      const [n, c, h, w] = data.shape;
      expect(n > 0 && c === 3 && h === 32 && w === 32, 'N x 3 x 32 x 32');
      expect(data.images.length === n * 3072 && data.labels.length === n, 'N images and N labels');
      expect(
        data.labels.every((l) => l >= 0 && l < classes),
        `labels in [0, ${classes})`,
      );
    };
  // Label bytes are what a flip can break: the "header" here is the first record's label bytes.
  const tally = await fuzz(
    t,
    2,
    [
      { name: 'batch10.bin', bytes: batch([[3], [9], [0]]), header: 1, read: check('cifar10', 10) },
      {
        name: 'batch100.bin',
        bytes: batch([
          [19, 99],
          [4, 7],
          [0, 0],
        ]),
        header: 2,
        read: check('cifar100', 100),
      },
    ],
    true,
  );
  t.true(tally.loaded > 0 && tally.refused > 0, JSON.stringify(tally));
});

test('NPY images, labels and matrices (format versions 1, 2, 3), raw and gzipped', async (t) => {
  const fixture = (name: string) => new Uint8Array(readFileSync(join(fixtures, name)));
  const withRewrite = (base: Base): Base => ({ ...base, rewrite: (rng) => rewriteNpy(base.bytes, rng) });
  const images = async (path: string, expect: Expect) => {
    const { images: pixels, shape } = await dataErrorsOnly(() => readNpyImages(path));
    expect(shape.length === 4 && shape.every((s) => Number.isInteger(s) && s > 0), 'N x C x H x W');
    expect(pixels.length === product(shape), 'as many pixels as the shape holds');
  };
  const tally = await fuzz(
    t,
    3,
    [
      withRewrite({
        name: 'nhwc_v1.npy',
        bytes: fixture('images_u1_nhwc_v1.npy'),
        header: 128,
        read: images,
      }),
      withRewrite({
        name: 'nchw_v2.npy',
        bytes: fixture('images_u1_nchw_v2.npy'),
        header: 128,
        read: images,
      }),
      withRewrite({
        name: 'labels_v3.npy',
        bytes: fixture('labels_i8_v3.npy'),
        header: 128,
        read: async (path, expect) => {
          const labels = await dataErrorsOnly(() => readNpyLabels(path, 3));
          expect(
            labels.every((l) => l >= 0 && l < 3),
            'labels in [0, 3)',
          );
        },
      }),
      withRewrite({
        name: 'matrix.npy',
        bytes: encodeNpy(
          Float32Array.from({ length: 12 }, (_, i) => i / 4),
          [3, 4],
        ),
        header: 128,
        read: async (path, expect) => {
          const { data, rows, cols } = await dataErrorsOnly(() => readNpyMatrix(path));
          expect(data.length === rows * cols, 'rows x cols values');
        },
      }),
    ],
    true,
  );
  t.true(tally.loaded > 0 && tally.refused > 0, JSON.stringify(tally));
});

test('safetensors files', async (t) => {
  const path = join(dir, 'base.safetensors');
  writeSafetensors(
    path,
    {
      'conv.weight': { dtype: 'F32', shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) },
      steps: { dtype: 'I64', shape: [], data: BigInt64Array.of(7n) },
      mask: { dtype: 'U8', shape: [5], data: Uint8Array.of(1, 0, 1, 0, 1) },
      table: { dtype: 'F64', shape: [2], data: Float64Array.of(0.5, -1) },
    },
    { epoch: '3', note: 'x' },
  );
  const bytes = new Uint8Array(readFileSync(path));
  const header = 8 + Number(Buffer.from(bytes).readBigUInt64LE(0));
  const sizes = { F32: 4, F64: 8, I32: 4, I64: 8, U8: 1 };
  const tally = await fuzz(
    t,
    4,
    [
      {
        name: 'model.safetensors',
        bytes,
        header,
        rewrite: (rng) => rewriteSafetensors(bytes, rng),
        read: (file, expect) => {
          const { tensors, metadata } = readSafetensors(file);
          for (const [name, tensor] of tensors) {
            const count = product(tensor.shape);
            expect(tensor.data.length === count, `${name}: as many values as its shape holds`);
            expect(tensor.data.byteLength === count * sizes[tensor.dtype], `${name}: the bytes of its dtype`);
          }
          expect(
            Object.values(metadata).every((v) => typeof v === 'string'),
            'string metadata',
          );
        },
      },
    ],
    false,
  );
  t.true(tally.loaded > 0 && tally.refused > 0, JSON.stringify(tally));
});
