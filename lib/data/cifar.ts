// CIFAR-10 and CIFAR-100 "binary version" files (https://www.cs.toronto.edu/~kriz/cifar.html).
//
// A file is a sequence of fixed-size records with no header:
//   CIFAR-10:  <1 label byte> <3072 pixel bytes>                      (3073 bytes)
//   CIFAR-100: <1 coarse label byte> <1 fine label byte> <3072 pixels> (3074 bytes)
// The 3072 pixels are 1024 red, 1024 green, 1024 blue, each 32 x 32 row-major: already CHW.
// Any whole number of records is a valid file (the published batches hold 10000 or 50000, subsets fewer).
// Without a header, truncation inside a record shows as a length that is not a whole number of records; a
// file cut at a record boundary cannot be told from a smaller one, so messages say how many records were read.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { concatDatasets, validateTrainTest } from './dataset-ops.js';
import { DataFileError } from './errors.js';
import { type InflateLimit, readMaybeGzip } from './read-bytes.js';
import type { Dataset, TrainTest } from './types.js';

export type CifarVariant = 'cifar10' | 'cifar100';

const PIXELS = 3 * 32 * 32;

export const CIFAR10_CLASS_NAMES = [
  'airplane',
  'automobile',
  'bird',
  'cat',
  'deer',
  'dog',
  'frog',
  'horse',
  'ship',
  'truck',
];

export interface CifarBatchOptions {
  variant: CifarVariant;
  /** CIFAR-100 only: which label byte becomes `labels` (default 'fine'). */
  labels?: 'fine' | 'coarse';
  /** When given, the file must hold exactly this many records (the loaders accept any whole number). */
  expectedRecords?: number;
}

/** Parses one batch file's bytes into a Dataset (images copied out of the interleaved records). */
export function parseCifarBatch(bytes: Uint8Array, source: string, options: CifarBatchOptions): Dataset {
  const labelBytes = options.variant === 'cifar10' ? 1 : 2;
  const recordBytes = labelBytes + PIXELS;
  const useCoarse = options.variant === 'cifar100' && options.labels === 'coarse';
  const classes = options.variant === 'cifar10' ? 10 : useCoarse ? 20 : 100;
  const labelAt = options.variant === 'cifar10' || useCoarse ? 0 : 1;

  const records = Math.floor(bytes.length / recordBytes);
  if (bytes.length % recordBytes !== 0) {
    const rest = bytes.length - records * recordBytes;
    throw new DataFileError(
      source,
      `expected whole ${recordBytes}-byte ${options.variant} records, file has ${bytes.length} bytes ` +
        `(${records} whole records + ${rest} bytes): record ${records} starting at byte offset ` +
        `${records * recordBytes} is cut short`,
      records * recordBytes,
    );
  }
  if (records === 0) throw new DataFileError(source, 'file is empty; expected at least one record', 0);
  if (options.expectedRecords !== undefined && records !== options.expectedRecords) {
    throw new DataFileError(
      source,
      `expected ${options.expectedRecords} records (${options.expectedRecords * recordBytes} bytes), file has ` +
        `${records} (${bytes.length} bytes)` +
        (records < options.expectedRecords ? `: truncated at byte offset ${bytes.length}` : ''),
      Math.min(bytes.length, options.expectedRecords * recordBytes),
    );
  }

  const images = new Uint8Array(records * PIXELS);
  const labels = new Int32Array(records);
  for (let r = 0; r < records; r++) {
    const start = r * recordBytes;
    // Both CIFAR-100 label bytes are checked, whichever is used: a wrong byte in either means a corrupt record.
    for (let b = 0; b < labelBytes; b++) {
      const limit = options.variant === 'cifar10' ? 10 : b === 0 ? 20 : 100;
      const value = bytes[start + b];
      if (value >= limit) {
        const name = options.variant === 'cifar10' ? 'label' : b === 0 ? 'coarse label' : 'fine label';
        throw new DataFileError(
          source,
          `${name} ${value} of record ${r} at byte offset ${start + b} is outside [0, ${limit})`,
          start + b,
        );
      }
    }
    labels[r] = bytes[start + labelAt];
    images.set(bytes.subarray(start + labelBytes, start + recordBytes), r * PIXELS);
  }
  return { images, labels, shape: [records, 3, 32, 32], classes };
}

/**
 * Headerless, so a gzipped batch has no declared size to hold it to: a fixed bound instead, far above the
 * largest published file (CIFAR-100 train.bin, 153.7 MB) and far below what would exhaust memory.
 */
const MAX_BATCH_BYTES = 1 << 30;
const batchLimit = (): InflateLimit => ({
  maxBytes: MAX_BATCH_BYTES,
  reason: 'a CIFAR batch file is read up to 1 GiB; the published ones are at most 154 MB',
});

export async function readCifarBatch(path: string, options: CifarBatchOptions): Promise<Dataset> {
  const { bytes, source } = await readMaybeGzip(path, batchLimit);
  return parseCifarBatch(bytes, source, options);
}

/** `dir` itself when it holds all `files`, else `dir/subdir` (the folder the archive unpacks to) when that does. */
function findFolder(dir: string, subdir: string, files: string[]): string {
  for (const candidate of [dir, join(dir, subdir)]) {
    if (files.every((f) => existsSync(join(candidate, f)))) return candidate;
  }
  const missing = files.filter((f) => !existsSync(join(dir, f)));
  throw new Error(
    `${dir}: expected the files ${files.join(', ')} here or in ${join(dir, subdir)}; missing here: ${missing.join(', ')}`,
  );
}

/** Class names from a one-name-per-line file, when it exists; it must list exactly `classes` names. */
async function readClassNames(path: string, classes: number): Promise<string[] | undefined> {
  if (!existsSync(path)) return undefined;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new DataFileError(path, `cannot read the class names (${(err as Error).message})`);
  }
  const names = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
  if (names.length !== classes) {
    throw new DataFileError(path, `expected ${classes} class names (one per line), found ${names.length}`);
  }
  return names;
}

const CIFAR10_TRAIN = [
  'data_batch_1.bin',
  'data_batch_2.bin',
  'data_batch_3.bin',
  'data_batch_4.bin',
  'data_batch_5.bin',
];

/** CIFAR-10 from `dir` (cifar-10-batches-bin/ or its parent): 50000 train, 10000 test images as published. */
export async function loadCifar10(dir: string): Promise<TrainTest> {
  const folder = findFolder(dir, 'cifar-10-batches-bin', [...CIFAR10_TRAIN, 'test_batch.bin']);
  const options: CifarBatchOptions = { variant: 'cifar10' };
  const batches = await Promise.all(CIFAR10_TRAIN.map((f) => readCifarBatch(join(folder, f), options)));
  const train = concatDatasets(batches);
  const test = await readCifarBatch(join(folder, 'test_batch.bin'), options);
  validateTrainTest(
    { train, test },
    { train: join(folder, 'data_batch_{1..5}.bin'), test: join(folder, 'test_batch.bin') },
  );
  const classNames = (await readClassNames(join(folder, 'batches.meta.txt'), 10)) ?? CIFAR10_CLASS_NAMES;
  train.classNames = classNames;
  test.classNames = classNames;
  return { train, test };
}

/** CIFAR-100 from `dir` (cifar-100-binary/ or its parent): 50000 train, 10000 test as published; fine or coarse labels. */
export async function loadCifar100(dir: string, labels: 'fine' | 'coarse' = 'fine'): Promise<TrainTest> {
  const folder = findFolder(dir, 'cifar-100-binary', ['train.bin', 'test.bin']);
  const train = await readCifarBatch(join(folder, 'train.bin'), { variant: 'cifar100', labels });
  const test = await readCifarBatch(join(folder, 'test.bin'), { variant: 'cifar100', labels });
  validateTrainTest({ train, test }, { train: join(folder, 'train.bin'), test: join(folder, 'test.bin') });
  const classNames = await readClassNames(
    join(folder, labels === 'fine' ? 'fine_label_names.txt' : 'coarse_label_names.txt'),
    train.classes,
  );
  if (classNames !== undefined) {
    train.classNames = classNames;
    test.classNames = classNames;
  }
  return { train, test };
}
