// CIFAR-10/100 binary batches: crafted records, truncation, bad labels, and the CIFAR-10 folder loader.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import test from 'ava';
import {
  CIFAR10_CLASS_NAMES,
  loadCifar10,
  loadCifar100,
  parseCifarBatch,
  readCifarBatch,
} from '../lib/data/cifar.js';
import { loadDataset } from '../lib/data/dataset.js';
import { DataFileError } from '../lib/data/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'eos-cifar-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

const PIXELS = 3072;
const pixel = (record: number, i: number) => (record * 31 + i * 7) % 256;

/** Records of `labelBytes.length` label bytes each followed by 3072 pixels given by `pixel`. */
function batch(labelBytes: number[][]): Uint8Array {
  const recordBytes = labelBytes[0].length + PIXELS;
  const out = new Uint8Array(labelBytes.length * recordBytes);
  labelBytes.forEach((labels, r) => {
    out.set(labels, r * recordBytes);
    for (let i = 0; i < PIXELS; i++) out[r * recordBytes + labels.length + i] = pixel(r, i);
  });
  return out;
}

test('CIFAR-10 records become labels and CHW images', (t) => {
  const data = parseCifarBatch(batch([[3], [9], [0]]), 'b.bin', { variant: 'cifar10' });
  t.deepEqual(data.shape, [3, 3, 32, 32]);
  t.is(data.classes, 10);
  t.deepEqual(Array.from(data.labels), [3, 9, 0]);
  for (const [r, i] of [
    [0, 0],
    [1, 1023],
    [1, 1024],
    [2, 3071],
  ]) {
    t.is(data.images[r * PIXELS + i], pixel(r, i));
  }
});

test('CIFAR-100 records give fine labels by default and coarse labels on request', (t) => {
  const bytes = batch([
    [19, 99],
    [4, 7],
  ]);
  const fine = parseCifarBatch(bytes, 'train.bin', { variant: 'cifar100' });
  t.is(fine.classes, 100);
  t.deepEqual(Array.from(fine.labels), [99, 7]);
  const coarse = parseCifarBatch(bytes, 'train.bin', { variant: 'cifar100', labels: 'coarse' });
  t.is(coarse.classes, 20);
  t.deepEqual(Array.from(coarse.labels), [19, 4]);
  t.is(coarse.images[PIXELS + 5], pixel(1, 5));
});

test('a batch cut inside a record names the record and its offset', (t) => {
  const bytes = batch([[1], [2], [3]]).subarray(0, 2 * 3073 + 100);
  const err = t.throws(() => parseCifarBatch(bytes, 'data_batch_1.bin', { variant: 'cifar10' }), {
    instanceOf: DataFileError,
  });
  t.is(
    err.message,
    'data_batch_1.bin: expected whole 3073-byte cifar10 records, file has 6246 bytes (2 whole records + 100 bytes): record 2 starting at byte offset 6146 is cut short',
  );
  t.is(err.offset, 6146);
});

test('a batch cut at a record boundary fails only when a record count is asked for', (t) => {
  const bytes = batch([[1], [2]]);
  t.throws(() => parseCifarBatch(bytes, 'test_batch.bin', { variant: 'cifar10', expectedRecords: 10000 }), {
    message:
      'test_batch.bin: expected 10000 records (30730000 bytes), file has 2 (6146 bytes): truncated at byte offset 6146',
  });
  t.throws(() => parseCifarBatch(new Uint8Array(0), 'e.bin', { variant: 'cifar10' }), {
    message: /file is empty/,
  });
});

test('labels out of range are reported with record and offset, for both CIFAR-100 label bytes', (t) => {
  t.throws(() => parseCifarBatch(batch([[1], [10]]), 'b.bin', { variant: 'cifar10' }), {
    message: 'b.bin: label 10 of record 1 at byte offset 3073 is outside [0, 10)',
  });
  t.throws(
    () =>
      parseCifarBatch(
        batch([
          [3, 5],
          [20, 5],
        ]),
        'c.bin',
        { variant: 'cifar100' },
      ),
    {
      message: 'c.bin: coarse label 20 of record 1 at byte offset 3074 is outside [0, 20)',
    },
  );
  t.throws(() => parseCifarBatch(batch([[3, 100]]), 'f.bin', { variant: 'cifar100', labels: 'coarse' }), {
    message: 'f.bin: fine label 100 of record 0 at byte offset 1 is outside [0, 100)',
  });
});

test('loadCifar10 reads the five training batches and the test batch from the archive folder', async (t) => {
  // One full-size batch (10000 records), linked under every batch name: the real layout without 180 MB of disk.
  const folder = join(dir, 'cifar-10-batches-bin');
  mkdirSync(folder);
  const labels = Array.from({ length: 10000 }, (_, r) => [r % 10]);
  writeFileSync(join(dir, 'one-batch.bin'), batch(labels));
  for (const name of [
    'data_batch_1',
    'data_batch_2',
    'data_batch_3',
    'data_batch_4',
    'data_batch_5',
    'test_batch',
  ]) {
    symlinkSync(join(dir, 'one-batch.bin'), join(folder, `${name}.bin`));
  }
  const { train, test: testSet } = await loadDataset('cifar10', { dataDir: dir }); // the parent folder works too
  t.deepEqual(train.shape, [50000, 3, 32, 32]);
  t.deepEqual(testSet.shape, [10000, 3, 32, 32]);
  t.is(train.labels[20007], 7);
  t.is(train.images[20007 * PIXELS + 100], pixel(7, 100));
  t.deepEqual(train.classNames, CIFAR10_CLASS_NAMES);
  const direct = await loadCifar10(folder);
  t.deepEqual(direct.test.shape, [10000, 3, 32, 32]);
});

test('CIFAR loaders name missing files and short files', async (t) => {
  const empty = join(dir, 'empty');
  mkdirSync(empty);
  await t.throwsAsync(loadCifar10(empty), {
    message: /expected the files data_batch_1\.bin, .* missing here: data_batch_1\.bin/,
  });
  await t.throwsAsync(loadDataset('cifar100'), { message: /no default location; pass dataDir/ });
});

test('batch files of 1 and 3 records read whole, raw or gzipped', async (t) => {
  const one = join(dir, 'one.bin');
  writeFileSync(one, batch([[7]]));
  const single = await readCifarBatch(one, { variant: 'cifar10' });
  t.deepEqual(single.shape, [1, 3, 32, 32]);
  t.deepEqual(Array.from(single.labels), [7]);
  t.is(single.images[3071], pixel(0, 3071));
  const three = join(dir, 'three.bin.gz');
  writeFileSync(
    three,
    gzipSync(
      batch([
        [1, 10],
        [2, 20],
        [3, 30],
      ]),
    ),
  );
  const data = await readCifarBatch(three, { variant: 'cifar100' });
  t.deepEqual(data.shape, [3, 3, 32, 32]);
  t.deepEqual(Array.from(data.labels), [10, 20, 30]);
  t.is(data.images[2 * PIXELS + 5], pixel(2, 5));
  // A size between whole records is still refused, naming the file, its size and the record size.
  writeFileSync(join(dir, 'odd.bin'), batch([[1], [2], [3]]).subarray(0, 3 * 3073 - 1));
  await t.throwsAsync(readCifarBatch(join(dir, 'odd.bin'), { variant: 'cifar10' }), {
    message:
      /odd\.bin: expected whole 3073-byte cifar10 records, file has 9218 bytes \(2 whole records \+ 3072 bytes\)/,
  });
});

test('loaders take batches of any whole size, and refuse training labels that miss a class', async (t) => {
  // CIFAR-10: five 2-record training batches (classes 0..9 between them) and a 1-record test batch.
  const ten = join(dir, 'small10');
  mkdirSync(ten);
  for (let b = 0; b < 5; b++)
    writeFileSync(join(ten, `data_batch_${b + 1}.bin`), batch([[2 * b], [2 * b + 1]]));
  writeFileSync(join(ten, 'test_batch.bin'), batch([[4]]));
  const { train, test: testSet } = await loadCifar10(ten);
  t.deepEqual(train.shape, [10, 3, 32, 32]);
  t.deepEqual(Array.from(train.labels), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  t.deepEqual(testSet.shape, [1, 3, 32, 32]);
  writeFileSync(join(ten, 'data_batch_2.bin'), batch([[0], [1]])); // classes 2 and 3 now have no images
  await t.throwsAsync(loadCifar10(ten), {
    message: `${join(ten, 'data_batch_{1..5}.bin')}: training labels have no images of classes 2, 3 (labels must be 0..9 with every class present)`,
  });

  // CIFAR-100: 20 records cover the 20 coarse classes but not the 100 fine ones.
  const hundred = join(dir, 'small100', 'cifar-100-binary');
  mkdirSync(hundred, { recursive: true });
  writeFileSync(join(hundred, 'train.bin'), batch(Array.from({ length: 20 }, (_, r) => [r, 5 * r])));
  writeFileSync(join(hundred, 'test.bin'), batch([[19, 95]]));
  const coarse = await loadCifar100(join(dir, 'small100'), 'coarse');
  t.deepEqual(coarse.train.shape, [20, 3, 32, 32]);
  t.is(coarse.train.classes, 20);
  await t.throwsAsync(loadCifar100(join(dir, 'small100')), {
    message: `${join(hundred, 'train.bin')}: training labels have no images of classes 1, 2, 3, 4, 6, ... (labels must be 0..99 with every class present)`,
  });
});
