// NPY reader (on files numpy wrote, and on crafted broken ones), writer round trips, and the npy data set.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import test from 'ava';
import { loadDataset } from '../lib/data/dataset.js';
import { DataFileError } from '../lib/data/errors.js';
import {
  npyToImages,
  npyToLabels,
  parseNpy,
  readNpy,
  readNpyImages,
  readNpyLabels,
  readNpyMatrix,
} from '../lib/data/npy.js';
import { encodeNpy, writeNpy } from '../lib/data/npy-write.js';

const fixtures = fileURLToPath(new URL('../../test/fixtures/npy/', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'eos-npy-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

test('numpy-written NHWC uint8 images (format 1.0) are transposed to NCHW', async (t) => {
  const { images, shape, layout } = await readNpyImages(join(fixtures, 'images_u1_nhwc_v1.npy'));
  t.is(layout, 'NHWC');
  t.deepEqual(shape, [2, 3, 4, 5]);
  // NHWC element (n, y, x, c) had the value of its flat index mod 251.
  for (const [n, c, y, x] of [
    [0, 0, 0, 0],
    [0, 2, 1, 3],
    [1, 1, 3, 4],
  ]) {
    t.is(images[((n * 3 + c) * 4 + y) * 5 + x], (((n * 4 + y) * 5 + x) * 3 + c) % 251);
  }
});

test('numpy-written NCHW images (format 2.0) are kept as they are; NHWC given explicitly wins', async (t) => {
  const { images, shape, layout } = await readNpyImages(join(fixtures, 'images_u1_nchw_v2.npy'));
  t.is(layout, 'NCHW');
  t.deepEqual(shape, [2, 3, 4, 5]);
  t.deepEqual(
    Array.from(images),
    Array.from({ length: 120 }, (_, i) => i % 251),
  );
  const forced = await readNpyImages(join(fixtures, 'images_u1_nchw_v2.npy'), 'NHWC');
  t.deepEqual(forced.shape, [2, 5, 3, 4]);
});

test('labels in int64 (format 3.0), int32 and uint8 all read as int32', async (t) => {
  for (const name of ['labels_i8_v3.npy', 'labels_i4.npy', 'labels_u1.npy']) {
    const labels = await readNpyLabels(join(fixtures, name), 3);
    t.true(labels instanceof Int32Array, name);
    t.deepEqual(Array.from(labels), [0, 2, 1, 2], name);
  }
  await t.throwsAsync(readNpyLabels(join(fixtures, 'labels_i8_v3.npy'), 2), {
    message: /labels_i8_v3\.npy: label 2 of item 1 at byte offset 136 is outside \[0, 2\)/,
  });
});

test('float32 and float64 matrices read as float32 N x d', async (t) => {
  for (const name of ['matrix_f4.npy', 'matrix_f8.npy']) {
    const { data, rows, cols } = await readNpyMatrix(join(fixtures, name));
    t.is(rows, 3);
    t.is(cols, 4);
    t.true(data instanceof Float32Array);
    t.deepEqual(Array.from(data), [0, -0.25, -0.5, -0.75, 1, 0.75, 0.5, 0.25, 2, 1.75, 1.5, 1.25], name);
  }
});

test('Fortran order and big-endian data are refused with what to do instead', async (t) => {
  await t.throwsAsync(readNpy(join(fixtures, 'matrix_f4_fortran.npy')), {
    instanceOf: DataFileError,
    message:
      /fortran_order is True; only C-order arrays are read: save np\.ascontiguousarray\(array\) instead/,
  });
  await t.throwsAsync(readNpy(join(fixtures, 'matrix_f4_bigendian.npy')), {
    message: /dtype '>f4' is big-endian; save array\.astype\('<f4'\) instead/,
  });
});

test('truncated data, trailing bytes, a cut header, bad magic and bad version name file and offset', (t) => {
  const whole = encodeNpy(new Float32Array(12), [3, 4]);
  t.is(whole.length, 128 + 48);
  const cut = t.throws(() => parseNpy(whole.subarray(0, 150), 'e.npy'), { instanceOf: DataFileError });
  t.is(
    cut.message,
    'e.npy: expected 48 bytes of float32 data (shape (3, 4)) from byte offset 128, file has 150 bytes: truncated at byte offset 150',
  );
  t.is(cut.offset, 150);
  const longer = new Uint8Array(whole.length + 3);
  longer.set(whole);
  t.throws(() => parseNpy(longer, 'l.npy'), {
    message: /^l\.npy: 3 unexpected bytes after the data, from byte offset 176/,
  });
  t.throws(() => parseNpy(whole.subarray(0, 40), 'h.npy'), {
    message:
      'h.npy: expected a 118-byte header from byte offset 10, file has 40 bytes: truncated at byte offset 40',
  });
  t.throws(() => parseNpy(new TextEncoder().encode('not an npy file'), 'x.npy'), {
    message: /x\.npy: expected the NPY magic .* at byte offset 0/,
  });
  const v9 = whole.slice();
  v9[6] = 9;
  t.throws(() => parseNpy(v9, 'v.npy'), {
    message: 'v.npy: NPY format version 9.0 at byte offset 6 is not 1.0, 2.0 or 3.0',
  });
});

test('unsupported dtypes, float images, ambiguous layouts and bad labels are clear errors', (t) => {
  const header = (dict: string) => {
    const length = Math.ceil((10 + dict.length + 1) / 64) * 64 - 10;
    const text = `${dict}${' '.repeat(length - dict.length - 1)}\n`;
    return Uint8Array.from([
      0x93,
      0x4e,
      0x55,
      0x4d,
      0x50,
      0x59,
      1,
      0,
      length & 255,
      length >> 8,
      ...new TextEncoder().encode(text),
    ]);
  };
  t.throws(() => parseNpy(header("{'descr': '<c8', 'fortran_order': False, 'shape': (), }"), 'c.npy'), {
    message: /dtype '<c8' is not supported/,
  });
  t.throws(
    () => parseNpy(header("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (), }"), 's.npy'),
    {
      message: /structured dtypes are not supported/,
    },
  );
  const floats = parseNpy(encodeNpy(new Float32Array(2 * 28 * 28), [2, 1, 28, 28]), 'f.npy');
  t.throws(() => npyToImages(floats), {
    message: /images must be uint8, found float32 \(float NPY arrays are read as embedding/,
  });
  const ambiguous = parseNpy(encodeNpy(new Uint8Array(2 * 3 * 5 * 3), [2, 3, 5, 3]), 'a.npy');
  t.throws(() => npyToImages(ambiguous), {
    message:
      'a.npy: cannot tell whether images of shape (2, 3, 5, 3) are NCHW or NHWC: dimensions 1 and 3 are both a ' +
      'possible channel count (1 or 3), and the layout is read from the shape; if they are NHWC, save ' +
      'np.transpose(images, (0, 3, 1, 2)), shape (2, 3, 3, 5); if NCHW, save np.transpose(images, (0, 2, 3, 1)), ' +
      'shape (2, 5, 3, 3)',
  });
  // Both suggested shapes are read without a layout, and give the same images as the layout given explicitly.
  const nhwc = Uint8Array.from({ length: 2 * 3 * 5 * 3 }, (_, i) => i);
  const asNhwc = npyToImages(parseNpy(encodeNpy(nhwc, [2, 3, 5, 3]), 'a.npy'), 'NHWC');
  const nchw = asNhwc.images; // (2, 3, 3, 5)
  t.deepEqual(npyToImages(parseNpy(encodeNpy(nchw, [2, 3, 3, 5]), 'b.npy')).images, nchw);
  t.throws(() => npyToImages(parseNpy(encodeNpy(new Uint8Array(2 * 3 * 3 * 3), [2, 3, 3, 3]), 't.npy')), {
    message: /no order of the axes tells; pass layout to the library reader$/,
  });
  t.throws(() => npyToImages(parseNpy(encodeNpy(new Uint8Array(2 * 4 * 4 * 4), [2, 4, 4, 4]), 'r.npy')), {
    message:
      'r.npy: images of shape (2, 4, 4, 4) have no channel axis: dimension 1 (NCHW) or dimension 3 (NHWC) must be the channel count, 1 (grey) or 3 (RGB)',
  });
  const negative = parseNpy(encodeNpy(Int32Array.from([0, -1]), [2]), 'n.npy');
  t.throws(() => npyToLabels(negative), {
    message: 'n.npy: label -1 of item 1 at byte offset 132 is outside the non-negative int32 range',
  });
  const twoD = parseNpy(encodeNpy(Int32Array.from([0, 1]), [1, 2]), 'm.npy');
  t.throws(() => npyToLabels(twoD), { message: /labels: expected a 1-D array, found shape \(1, 2\)/ });
});

test('writeNpy round-trips float32, int32 and uint8 through the reader and leaves no temporary file', async (t) => {
  const out = join(dir, 'written');
  mkdirSync(out);
  const matrix = Float32Array.from({ length: 15 }, (_, i) => i / 3 - 2);
  await writeNpy(join(out, 'm.npy'), matrix, [5, 3]);
  const back = await readNpyMatrix(join(out, 'm.npy'));
  t.deepEqual([back.rows, back.cols], [5, 3]);
  t.deepEqual(Array.from(back.data), Array.from(matrix));
  await writeNpy(join(out, 'l.npy'), Int32Array.from([4, 0, 7]), [3]);
  t.regex(readFileSync(join(out, 'l.npy')).toString('latin1'), /'shape': \(3,\)/);
  t.deepEqual(Array.from(await readNpyLabels(join(out, 'l.npy'))), [4, 0, 7]);
  // Overwriting replaces the file whole.
  await writeNpy(join(out, 'l.npy'), Uint8Array.from([1, 2]), [2]);
  t.deepEqual(Array.from(await readNpyLabels(join(out, 'l.npy'))), [1, 2]);
  t.deepEqual(readdirSync(out).sort(), ['l.npy', 'm.npy']);

  await t.throwsAsync(writeNpy(join(out, 'bad.npy'), new Float32Array(5), [2, 3]), {
    message: 'shape [2, 3] holds 6 elements, data has 5',
  });
  await t.throwsAsync(writeNpy(join(out, 'no-such-folder', 'x.npy'), new Float32Array(1), [1]), {
    message: `${join(out, 'no-such-folder', 'x.npy')}: cannot write the file: the folder ${join(out, 'no-such-folder')} does not exist`,
  });
  t.deepEqual(readdirSync(out).sort(), ['l.npy', 'm.npy']);
});

test('writeNpy writes the same bytes as np.save', (t) => {
  const same = (name: string, bytes: Uint8Array) =>
    t.true(Buffer.from(bytes).equals(readFileSync(join(fixtures, name))), `${name} differs from numpy's`);
  same(
    'matrix_f4.npy',
    encodeNpy(
      Float32Array.from({ length: 12 }, (_, i) => Math.floor(i / 4) - (i % 4) / 4),
      [3, 4],
    ),
  );
  same('labels_i4.npy', encodeNpy(Int32Array.from([0, 2, 1, 2]), [4]));
  same('labels_u1.npy', encodeNpy(Uint8Array.from([0, 2, 1, 2]), [4]));
  same(
    'images_u1_nhwc_v1.npy',
    encodeNpy(
      Uint8Array.from({ length: 120 }, (_, i) => i % 251),
      [2, 4, 5, 3],
    ),
  );
});

test('a gzipped .npy reads like the plain file', async (t) => {
  const path = join(dir, 'm.npy.gz');
  writeFileSync(path, gzipSync(readFileSync(join(fixtures, 'matrix_f4.npy'))));
  t.is((await readNpyMatrix(path)).data[5], 0.75);
});

test("loadDataset('npy') reads four files, converts NHWC and infers the class count", async (t) => {
  const folder = join(dir, 'set');
  mkdirSync(folder);
  const nhwc = Uint8Array.from({ length: 4 * 6 * 6 * 3 }, (_, i) => i % 256);
  await writeNpy(join(folder, 'train_images.npy'), nhwc, [4, 6, 6, 3]);
  await writeNpy(join(folder, 'train_labels.npy'), Int32Array.from([0, 1, 2, 1]), [4]);
  await writeNpy(join(folder, 'test_images.npy'), nhwc.subarray(0, 2 * 108), [2, 6, 6, 3]);
  await writeNpy(join(folder, 'test_labels.npy'), Uint8Array.from([2, 0]), [2]);
  const { train, test: testSet } = await loadDataset('npy', { dataDir: folder });
  t.deepEqual(train.shape, [4, 3, 6, 6]);
  t.deepEqual(testSet.shape, [2, 3, 6, 6]);
  t.is(train.classes, 3);
  t.is(testSet.classes, 3);
  t.is(train.images[1 * 108 + 2 * 36 + 3 * 6 + 4], nhwc[1 * 108 + (3 * 6 + 4) * 3 + 2]);
  await t.throwsAsync(loadDataset('npy', { dataDir: folder, classes: 2 }), {
    message: /label 2 of item 2 .* outside \[0, 2\)/,
  });
  // Every class must have training images: a gap in the labels, a class count above them, or a test class
  // the training set lacks are refused when the data set is read.
  await t.throwsAsync(loadDataset('npy', { dataDir: folder, classes: 4 }), {
    message: `${join(folder, 'train_labels.npy')}: training labels have no images of class 3 (labels must be 0..3 with every class present)`,
  });
  await writeNpy(join(folder, 'train_labels.npy'), Int32Array.from([0, 1, 3, 1]), [4]);
  await writeNpy(join(folder, 'test_labels.npy'), Uint8Array.from([3, 0]), [2]);
  await t.throwsAsync(loadDataset('npy', { dataDir: folder }), {
    message: `${join(folder, 'train_labels.npy')}: training labels have no images of class 2 (labels must be 0..3 with every class present)`,
  });
  await writeNpy(join(folder, 'train_labels.npy'), Int32Array.from([0, 1, 2, 1]), [4]);
  await writeNpy(join(folder, 'test_labels.npy'), Uint8Array.from([2, 10]), [2]);
  await t.throwsAsync(loadDataset('npy', { dataDir: folder }), {
    message: `${join(folder, 'test_labels.npy')}: test labels include class 10, but the training labels (${join(folder, 'train_labels.npy')}) only go up to 2`,
  });
  await writeNpy(join(folder, 'test_labels.npy'), Uint8Array.from([2, 0]), [2]);

  await writeNpy(join(folder, 'test_labels.npy'), Uint8Array.from([2, 0, 1]), [3]);
  await t.throwsAsync(loadDataset('npy', { dataDir: folder }), {
    message: /test_labels\.npy: 3 labels, but .*test_images\.npy holds 2 images/,
  });
  rmSync(join(folder, 'test_labels.npy'));
  await t.throwsAsync(loadDataset('npy', { dataDir: folder }), {
    message: /an npy data set needs .*; missing: test_labels\.npy/,
  });
  await t.throwsAsync(loadDataset('npy'), { message: /no default location; pass dataDir \(--data-dir\)/ });
});
