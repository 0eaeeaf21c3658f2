// IDX reader: crafted files (raw and gzip), and every way a file can be wrong.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGzip, gzipSync, constants as zlibConstants } from 'node:zlib';
import test from 'ava';
import { DataFileError } from '../lib/data/errors.js';
import { parseIdxImages, parseIdxLabels, readIdxImages, readIdxLabels } from '../lib/data/idx.js';
import { readNpy } from '../lib/data/npy.js';
import { encodeNpy } from '../lib/data/npy-write.js';

const dir = mkdtempSync(join(tmpdir(), 'eos-idx-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

/** An IDX file: magic 0x0000080<dims.length>, big-endian sizes, then `data`. */
function idx(dims: number[], data: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, 0x0800 | dims.length);
  for (const [i, d] of dims.entries()) view.setUint32(4 + 4 * i, d);
  out.set(data, 4 + 4 * dims.length);
  return out;
}

const pixels = Uint8Array.from({ length: 3 * 2 * 4 }, (_, i) => (i * 7) % 256);
const imagesFile = idx([3, 2, 4], pixels);
const labelsFile = idx([3], [2, 0, 1]);

function write(name: string, bytes: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

test('raw IDX images and labels read back as N x 1 x H x W and int32 labels', async (t) => {
  const { images, shape } = await readIdxImages(write('images.idx', imagesFile));
  t.deepEqual(shape, [3, 1, 2, 4]);
  t.deepEqual(Array.from(images), Array.from(pixels));
  const labels = await readIdxLabels(write('labels.idx', labelsFile), 3);
  t.true(labels instanceof Int32Array);
  t.deepEqual(Array.from(labels), [2, 0, 1]);
});

test('gzipped IDX files are detected by their magic, whatever the name', async (t) => {
  const { images, shape } = await readIdxImages(write('images-gz-without-suffix', gzipSync(imagesFile)));
  t.deepEqual(shape, [3, 1, 2, 4]);
  t.deepEqual(Array.from(images), Array.from(pixels));
  t.deepEqual(Array.from(await readIdxLabels(write('labels.idx.gz', gzipSync(labelsFile)), 3)), [2, 0, 1]);
});

test('truncated pixel data fail with the file, the expected size and the offset', (t) => {
  const cut = imagesFile.subarray(0, 30);
  const err = t.throws(() => parseIdxImages(cut, 'x.idx'), { instanceOf: DataFileError });
  t.is(
    err.message,
    'x.idx: expected 24 bytes of image data (3 x 2 x 4) from byte offset 16, file has 30 bytes: truncated at byte offset 30',
  );
  t.is(err.offset, 30);
  t.is(err.file, 'x.idx');
});

test('a truncated header, trailing bytes and a zero dimension are errors with offsets', (t) => {
  t.throws(() => parseIdxImages(imagesFile.subarray(0, 10), 'h.idx'), {
    message:
      'h.idx: expected a 16-byte header (3 dimension sizes from byte offset 4), file has only 10 bytes',
  });
  t.throws(() => parseIdxImages(imagesFile.subarray(0, 2), 'm.idx'), {
    message: /expected a 4-byte IDX magic number/,
  });
  const longer = new Uint8Array(imagesFile.length + 5);
  longer.set(imagesFile);
  t.throws(() => parseIdxImages(longer, 'long.idx'), {
    message: /^long\.idx: 5 unexpected bytes after the 3 x 2 x 4 image data, from byte offset 40/,
  });
  t.throws(() => parseIdxImages(idx([0, 2, 4], []), 'z.idx'), {
    message: /dimension 0 at byte offset 4 is 0/,
  });
});

test('a wrong magic number (labels read as images, non-byte data, not IDX) is named', (t) => {
  t.throws(() => parseIdxImages(labelsFile, 'l.idx'), {
    message:
      'l.idx: expected IDX magic 0x00000803 (image: unsigned bytes, 3 dimensions) at byte offset 0, found 0x00000801 (unsigned byte, 1 dimensions)',
  });
  const floats = imagesFile.slice();
  floats[2] = 0x0d;
  t.throws(() => parseIdxImages(floats, 'f.idx'), { message: /found 0x00000d03 \(float32, 3 dimensions\)/ });
  t.throws(() => parseIdxLabels(new TextEncoder().encode('hello world!'), 't.txt', 10), {
    message: /found 0x68656c6c, which is not an IDX header/,
  });
});

test('a label outside [0, classes) is reported with its item and byte offset', (t) => {
  const err = t.throws(() => parseIdxLabels(idx([4], [1, 0, 10, 2]), 'labels.idx', 10), {
    instanceOf: DataFileError,
  });
  t.is(err.message, 'labels.idx: label 10 of item 2 at byte offset 10 is outside [0, 10)');
  t.is(err.offset, 10);
  t.throws(() => parseIdxLabels(labelsFile, 'labels.idx', 0), {
    message: /classes: expected a positive integer/,
  });
});

test('a truncated gzip stream and a truncated file inside a good gzip stream are both errors', async (t) => {
  const gz = gzipSync(imagesFile);
  await t.throwsAsync(readIdxImages(write('cut.gz', gz.subarray(0, gz.length - 12))), {
    message: /cut\.gz: gzip data is corrupt or truncated/,
  });
  await t.throwsAsync(readIdxImages(write('inner-cut.gz', gzipSync(imagesFile.subarray(0, 30)))), {
    message:
      /inner-cut\.gz \(after gunzip\): expected 24 bytes of image data .* truncated at byte offset 30$/,
  });
});

test('a missing file names the path', async (t) => {
  await t.throwsAsync(readIdxImages(join(dir, 'nope.idx')), {
    message: /nope\.idx: cannot read the file \(ENOENT/,
  });
});

/** gzip of `head` followed by `zeros` zero bytes, compressed as a stream (the zeros never sit in memory). */
async function gzipWithZeros(head: Uint8Array, zeros: number): Promise<Buffer> {
  const gzip = createGzip({ level: zlibConstants.Z_BEST_SPEED });
  const out: Buffer[] = [];
  gzip.on('data', (chunk: Buffer) => out.push(chunk));
  const done = new Promise((resolve, reject) => gzip.on('end', resolve).on('error', reject));
  gzip.write(head);
  const block = Buffer.alloc(1 << 20);
  for (let left = zeros; left > 0; left -= block.length) {
    if (!gzip.write(block.subarray(0, Math.min(left, block.length)))) {
      await new Promise((resolve) => gzip.once('drain', resolve));
    }
  }
  gzip.end();
  await done;
  return Buffer.concat(out);
}

const decompressedBefore = (message: string) =>
  Number(/stopped after (\d+) decompressed bytes/.exec(message)?.[1]);

test('a gzipped file that inflates past its declared size is refused, naming the file and the size', async (t) => {
  const longer = write('longer.idx.gz', gzipSync(Buffer.concat([imagesFile, new Uint8Array(100)])));
  await t.throwsAsync(readIdxImages(longer), {
    message:
      `${longer}: gzip data are longer than the 40 bytes expected (the IDX header declares 3 x 2 x 4 image ` +
      'bytes after its 16-byte header); stopped after 140 decompressed bytes',
  });
  // Shorter than declared: the reader's own truncation message, on the decompressed bytes.
  const shorter = write('shorter.idx.gz', gzipSync(imagesFile.subarray(0, 20)));
  await t.throwsAsync(readIdxImages(shorter), {
    message: `${shorter} (after gunzip): expected 24 bytes of image data (3 x 2 x 4) from byte offset 16, file has 20 bytes: truncated at byte offset 20`,
  });
  // A header that declares more than memory can hold is refused at the header.
  const huge = write('huge.idx.gz', gzipSync(idx([0xffffffff, 0xffffffff, 2], [])));
  await t.throwsAsync(readIdxImages(huge), {
    message:
      /huge\.idx\.gz \(after gunzip\): the IDX header declares 4294967295 x 4294967295 x 2 image bytes .*: \d+ bytes, more than one file can hold in memory/,
  });
  // A bad header inside the gzip stream fails as it would in the raw file.
  await t.throwsAsync(readIdxLabels(write('wrong.gz', gzipSync(imagesFile)), 10), {
    message: /wrong\.gz \(after gunzip\): expected IDX magic 0x00000801 .* found 0x00000803/,
  });
});

test('a gzip bomb (200 MB of zeros behind a header declaring 10 images) fails after its first chunk', async (t) => {
  const header = idx([10, 28, 28], []);
  const bomb = write('bomb-images.gz', await gzipWithZeros(header, 200 << 20));
  t.true(bomb.length > 0);
  const rssBefore = process.memoryUsage().rss;
  const started = performance.now();
  const err = await t.throwsAsync(readIdxImages(bomb));
  const seconds = (performance.now() - started) / 1000;
  t.true(
    err.message.startsWith(
      `${bomb}: gzip data are longer than the 7856 bytes expected (the IDX header declares 10 x 28 x 28 image bytes after its 16-byte header); stopped after `,
    ),
    err.message,
  );
  // Bounded by construction: zlib stops within one output chunk (16 KiB by default) of the declared size.
  t.true(decompressedBefore(err.message) <= 7856 + (64 << 10), err.message);
  t.true(process.memoryUsage().rss - rssBefore < 64 << 20, 'memory grew by more than 64 MB');
  t.true(seconds < 5, `took ${seconds} s`);

  // The same for NPY: the header declares 10 float32 values.
  const npyHeader = encodeNpy(new Float32Array(10), [10]).subarray(0, 128);
  const npyBomb = write('bomb.npy.gz', await gzipWithZeros(npyHeader, 50 << 20));
  const npyErr = await t.throwsAsync(readNpy(npyBomb));
  t.true(
    npyErr.message.startsWith(
      `${npyBomb}: gzip data are longer than the 168 bytes expected (the NPY header declares float32 data of shape (10) after its 128-byte header); stopped after `,
    ),
    npyErr.message,
  );
  t.true(decompressedBefore(npyErr.message) <= 168 + (64 << 10), npyErr.message);
});
