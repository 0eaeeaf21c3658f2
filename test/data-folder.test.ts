// Image folders (--dataset folder): Fashion-MNIST test images written as PNG and JPEG through sharp, in the
// split layout (train/<class>/, test/<class>/) and as a single <class>/ tree, plus broken files of each kind.
// Checked: shapes, labels, class names, exact PNG pixels, JPEG and RGB decoding, resize + centre crop, the
// cache (reused, invalidated by a changed/added/removed file or option), every bad-file message, skipping,
// the seeded stratified test split, a read-only data folder, and one whole `eos run` on a folder.
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import sharp from 'sharp';
import { loadDataset } from '../lib/data/dataset.js';
import { loadFashionMnist } from '../lib/data/fashion-mnist.js';
import { describeSkipped } from '../lib/data/folder-bad-images.js';
import { loadFolderDataset } from '../lib/data/folder-dataset.js';
import { runPool } from '../lib/data/folder-pool.js';
import type { FolderProgress } from '../lib/data/folder-types.js';
import { packageRoot } from '../lib/native.js';

const run = promisify(execFile);
const eos = resolve(packageRoot, 'dist/lib/cli/eos.js');

const root = mkdtempSync(join(tmpdir(), 'eos-folder-'));
test.after.always(() => rmSync(root, { recursive: true, force: true }));
let folders = 0;
const freshFolder = () => {
  const dir = join(root, String(folders++));
  mkdirSync(dir);
  return dir;
};

// Folder names, sorted as the reader sorts them, and the Fashion-MNIST label each takes its images from.
const CLASSES = ['pullover', 'trouser', 'tshirt'];
const SOURCE_LABEL = [2, 1, 0];
const SIDE = 28;
const PIXELS = SIDE * SIDE;

/** The first 30 Fashion-MNIST test images of each source label, per class of CLASSES. */
const source: Promise<Uint8Array[][]> = loadFashionMnist().then(({ test }) =>
  SOURCE_LABEL.map((label) => {
    const images: Uint8Array[] = [];
    for (let i = 0; i < test.labels.length && images.length < 30; i++)
      if (test.labels[i] === label) images.push(test.images.slice(i * PIXELS, (i + 1) * PIXELS));
    return images;
  }),
);

async function writeGrey(path: string, pixels: Uint8Array, format: 'png' | 'jpeg', side = SIDE) {
  mkdirSync(dirname(path), { recursive: true });
  const image = sharp(Buffer.from(pixels), { raw: { width: side, height: side, channels: 1 } }).toColourspace(
    'b-w',
  );
  await (format === 'png' ? image.png() : image.jpeg({ quality: 95 })).toFile(path);
}

interface Written {
  dir: string;
  /** Per part: the [class, pixels] of each image in the order the reader lists them. */
  expected: Record<'train' | 'test', [number, Uint8Array][]>;
}

/**
 * Writes `train` + `test` images per class (split layout) or train + test into one <class>/ tree (single).
 * Names are zero-padded so that the reader's path order is the writing order. `jpeg(i)` picks JPEG files.
 */
async function writeFolder(
  layout: 'split' | 'single',
  train: number,
  test: number,
  jpeg: (i: number) => boolean = () => false,
): Promise<Written> {
  const dir = freshFolder();
  const images = await source;
  const expected: Written['expected'] = { train: [], test: [] };
  const writes: Promise<void>[] = [];
  CLASSES.forEach((name, c) => {
    for (let i = 0; i < train + test; i++) {
      const part = layout === 'single' || i < train ? 'train' : 'test';
      const format = jpeg(i) ? 'jpeg' : 'png';
      const file = `${String(i).padStart(3, '0')}.${format === 'jpeg' ? 'jpg' : 'png'}`;
      const path = layout === 'split' ? join(dir, part, name, file) : join(dir, name, file);
      writes.push(writeGrey(path, images[c][i], format));
      expected[part].push([c, images[c][i]]);
    }
  });
  await Promise.all(writes);
  return { dir, expected };
}

const rowOf = (images: Uint8Array, i: number, size = PIXELS) => images.subarray(i * size, (i + 1) * size);

test('a split folder of PNGs loads with its class names, labels and exact pixels', async (t) => {
  const { dir, expected } = await writeFolder('split', 8, 4);
  const events: FolderProgress[] = [];
  const data = await loadDataset('folder', { dataDir: dir, threads: 2, onProgress: (p) => events.push(p) });
  for (const part of ['train', 'test'] as const) {
    const d = data[part];
    t.deepEqual(d.shape, [expected[part].length, 1, SIDE, SIDE]);
    t.is(d.classes, 3);
    t.deepEqual(d.classNames, CLASSES);
    t.deepEqual(
      Array.from(d.labels),
      expected[part].map(([c]) => c),
    );
    expected[part].forEach(([, pixels], i) => {
      t.deepEqual(rowOf(d.images, i), pixels, `${part} row ${i}`);
    });
  }
  const folder = (data as Awaited<ReturnType<typeof loadFolderDataset>>).folder;
  t.is(folder.layout, 'split');
  t.is(folder.decoded, 36);
  t.deepEqual((data as Awaited<ReturnType<typeof loadFolderDataset>>).skipped, []);
  // Progress: every header, then every image, ending at the totals.
  t.deepEqual(events.at(-1), { stage: 'decode', done: 36, total: 36 });
  t.true(events.some((e) => e.stage === 'inspect' && e.done === 36 && e.total === 36));
});

test('the cache is reused, and a touched, rewritten, added or removed file or another option decodes afresh', async (t) => {
  const { dir, expected } = await writeFolder('split', 6, 3);
  const n = 27;
  const first = await loadFolderDataset(dir, { threads: 2 });
  t.is(first.folder.decoded, n);
  t.deepEqual(first.folder.cache, { dir: join(dir, '.eos-cache'), hit: false });
  const events: FolderProgress[] = [];
  const second = await loadFolderDataset(dir, { threads: 2, onProgress: (p) => events.push(p) });
  t.is(second.folder.decoded, 0);
  t.true(second.folder.cache.hit);
  t.deepEqual(events, []);
  t.deepEqual(second.train.images, first.train.images);
  t.deepEqual(second.test.labels, first.test.labels);

  // A new mtime alone invalidates it.
  const touched = join(dir, 'train', 'trouser', '001.png');
  utimesSync(touched, new Date(), new Date(Date.now() + 10_000));
  t.is((await loadFolderDataset(dir, { threads: 2 })).folder.decoded, n);
  t.is((await loadFolderDataset(dir, { threads: 2 })).folder.decoded, 0);

  // Rewritten with other pixels: the new pixels are read, not the cached ones.
  const other = new Uint8Array(PIXELS).fill(7);
  await writeGrey(touched, other, 'png');
  utimesSync(touched, new Date(), new Date(Date.now() + 20_000));
  const rewritten = await loadFolderDataset(dir, { threads: 2 });
  t.is(rewritten.folder.decoded, n);
  const row = 6 + 1; // trouser is class 1: after pullover's 6 training images
  t.deepEqual(rowOf(rewritten.train.images, row), other);
  t.notDeepEqual(rowOf(rewritten.train.images, row), expected.train[row][1]);

  // An added file, then a removed one.
  await writeGrey(join(dir, 'test', 'tshirt', '100.png'), other, 'png');
  const added = await loadFolderDataset(dir, { threads: 2 });
  t.is(added.folder.decoded, n + 1);
  t.is(added.test.shape[0], 10);
  rmSync(join(dir, 'test', 'tshirt', '100.png'));
  rmSync(join(dir, 'train', 'pullover', '000.png'));
  const removed = await loadFolderDataset(dir, { threads: 2 });
  t.is(removed.folder.decoded, n - 1);
  t.is(removed.train.shape[0], 17);

  // Another option: its own cache entry, so going back to the first needs no decoding.
  const resized = await loadFolderDataset(dir, { threads: 2, imageSize: 16 });
  t.is(resized.folder.decoded, n - 1);
  t.deepEqual(resized.train.shape, [17, 1, 16, 16]);
  t.is((await loadFolderDataset(dir, { threads: 2 })).folder.decoded, 0);
  t.is((await loadFolderDataset(dir, { threads: 2, imageSize: 16 })).folder.decoded, 0);
  // One tensor per set of options; the stale ones were removed.
  t.deepEqual(readdirSync(join(dir, '.eos-cache')).filter((f) => f.endsWith('.npy')).length, 2);

  // A damaged cached tensor is not trusted: decoded afresh and rewritten.
  const cached = readdirSync(join(dir, '.eos-cache')).find((f) => f.startsWith('native-auto-'))!;
  writeFileSync(join(dir, '.eos-cache', cached), 'garbage');
  const repaired = await loadFolderDataset(dir, { threads: 2 });
  t.is(repaired.folder.decoded, n - 1);
  t.deepEqual(repaired.train.images, removed.train.images);

  const off = await loadFolderDataset(dir, { threads: 2, cacheDir: false });
  t.deepEqual(off.folder.cache, { dir: null, hit: false, note: 'caching is off' });
});

test('JPEGs decode close to their pixels; grey files give 1 channel unless 3 are asked for', async (t) => {
  const { dir, expected } = await writeFolder('split', 6, 2, (i) => i % 2 === 1);
  const grey = await loadFolderDataset(dir, { threads: 2, cacheDir: false });
  t.deepEqual(grey.train.shape, [18, 1, SIDE, SIDE]);
  expected.train.forEach(([, pixels], i) => {
    const row = rowOf(grey.train.images, i);
    if (i % 2 === 0) t.deepEqual(row, pixels);
    else {
      let error = 0;
      for (let p = 0; p < PIXELS; p++) error += Math.abs(row[p] - pixels[p]);
      t.true(error / PIXELS < 6, `JPEG row ${i}: mean abs error ${error / PIXELS}`);
    }
  });
  const rgb = await loadFolderDataset(dir, { threads: 2, channels: 3, cacheDir: false });
  t.deepEqual(rgb.train.shape, [18, 3, SIDE, SIDE]);
  const image = rowOf(rgb.train.images, 0, 3 * PIXELS);
  for (let ch = 0; ch < 3; ch++)
    t.deepEqual(image.subarray(ch * PIXELS, (ch + 1) * PIXELS), expected.train[0][1]);
});

test('a lossless WebP decodes exactly; being RGB on disk, it makes the default 3 channels', async (t) => {
  const { dir, expected } = await writeFolder('split', 3, 1);
  const pixels = expected.train[0][1];
  await sharp(Buffer.from(pixels), { raw: { width: SIDE, height: SIDE, channels: 1 } })
    .toColourspace('b-w')
    .webp({ lossless: true })
    .toFile(join(dir, 'train', 'pullover', '000.webp'));
  rmSync(join(dir, 'train', 'pullover', '000.png'));
  const rgb = await loadFolderDataset(dir, { threads: 2, cacheDir: false });
  t.deepEqual(rgb.train.shape, [9, 3, SIDE, SIDE]);
  const grey = await loadFolderDataset(dir, { threads: 2, channels: 1, cacheDir: false });
  t.deepEqual(grey.train.shape, [9, 1, SIDE, SIDE]);
  expected.train.forEach(([, p], i) => {
    t.deepEqual(rowOf(grey.train.images, i), p, `row ${i}`);
  });
});

test('one colour image makes the folder RGB; its planes come out as R, G, B', async (t) => {
  const { dir } = await writeFolder('split', 3, 1);
  const rgb = new Uint8Array(PIXELS * 3);
  for (let p = 0; p < PIXELS; p++) rgb.set([10, 120, 250], 3 * p);
  await sharp(Buffer.from(rgb), { raw: { width: SIDE, height: SIDE, channels: 3 } })
    .png()
    .toFile(join(dir, 'train', 'pullover', '000.png'));
  const data = await loadFolderDataset(dir, { threads: 2, cacheDir: false });
  t.deepEqual(data.train.shape, [9, 3, SIDE, SIDE]);
  const image = rowOf(data.train.images, 0, 3 * PIXELS);
  t.deepEqual([image[0], image[PIXELS], image[2 * PIXELS]], [10, 120, 250]);
  t.deepEqual(Array.from(new Set(image.subarray(0, PIXELS))), [10]);
  const forcedGrey = await loadFolderDataset(dir, { threads: 2, channels: 1, cacheDir: false });
  t.deepEqual(forcedGrey.train.shape, [9, 1, SIDE, SIDE]);
});

test('mixed sizes are refused without imageSize; with it, the shorter side is resized and the centre cropped', async (t) => {
  const { dir } = await writeFolder('split', 3, 1);
  // 30 x 20 (width x height): column x holds 8x, row y adds y.
  const [w, h] = [30, 20];
  const wide = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) wide[y * w + x] = x * 8 + y;
  const widePath = join(dir, 'train', 'tshirt', 'wide.png');
  await sharp(Buffer.from(wide), { raw: { width: w, height: h, channels: 1 } })
    .toColourspace('b-w')
    .png()
    .toFile(widePath);
  const err = await t.throwsAsync(loadFolderDataset(dir, { threads: 2 }));
  t.is(
    err.message,
    `${dir}: images differ in size (width x height): ${join(dir, 'train/pullover/000.png')} is 28 x 28, ` +
      `${widePath} is 30 x 20; pass --image-size S (imageSize) to resize the shorter side to S and centre-crop`,
  );
  // --skip-bad-images does not make a size problem go away.
  await t.throwsAsync(loadFolderDataset(dir, { threads: 2, skipBadImages: true }), {
    message: /differ in size/,
  });

  const data = await loadFolderDataset(dir, { threads: 2, imageSize: 20, cacheDir: false });
  t.deepEqual(data.train.shape, [10, 1, 20, 20]);
  // wide.png sorts after the three 00N.png of tshirt: the last training row. 20 is its height already, so
  // the crop takes columns 5..24 exactly.
  const crop = rowOf(data.train.images, 9, 400);
  const want = new Uint8Array(400);
  for (let y = 0; y < 20; y++) for (let x = 0; x < 20; x++) want[y * 20 + x] = wide[y * w + x + 5];
  t.deepEqual(crop, want);

  // All one size, but not square: refused too.
  const oblong = freshFolder();
  for (const c of CLASSES)
    for (const part of ['train', 'test']) {
      mkdirSync(join(oblong, part, c), { recursive: true });
      await sharp(Buffer.from(wide), { raw: { width: w, height: h, channels: 1 } })
        .toColourspace('b-w')
        .png()
        .toFile(join(oblong, part, c, 'a.png'));
    }
  await t.throwsAsync(loadFolderDataset(oblong, { threads: 2 }), {
    message: `${oblong}: images are 30 x 20 (width x height), not square; pass --image-size S (imageSize) to resize the shorter side to S and centre-crop`,
  });
});

/** The bad files of each kind: name, how to make it, and the problem the reader must state. */
const BAD_FILES: [string, (path: string, jpeg: Buffer) => void, string | RegExp][] = [
  ['empty.png', (p) => writeFileSync(p, ''), 'empty file (0 bytes); expected a PNG, JPEG or WebP image'],
  [
    'cut.jpg',
    (p, jpeg) => writeFileSync(p, jpeg.subarray(0, jpeg.length - 200)),
    /^truncated JPEG: its \d+ bytes end without the end-of-image marker \(FF D9\)$/,
  ],
  [
    'notes.png',
    (p) => writeFileSync(p, 'these are my notes, not a picture\n'),
    'not a PNG, JPEG or WebP image (sharp: Input buffer contains unsupported image format)',
  ],
  ['pipe.png', (p) => execFileSync('mkfifo', [p]), 'not a regular file (a named pipe, socket or device)'],
  [
    'gone.png',
    (p) => symlinkSync(join(dirname(p), 'no-such-file.png'), p),
    'cannot read the file: no such file (removed, or a broken symbolic link)',
  ],
];

async function jpegBytes(): Promise<Buffer> {
  const pixels = (await source)[0][0];
  return sharp(Buffer.from(pixels), { raw: { width: SIDE, height: SIDE, channels: 1 } })
    .toColourspace('b-w')
    .jpeg({ quality: 95 })
    .toBuffer();
}

test('each kind of bad file is refused before decoding with one line naming it', async (t) => {
  const jpeg = await jpegBytes();
  for (const [name, make, problem] of BAD_FILES) {
    const { dir } = await writeFolder('split', 3, 1);
    const path = join(dir, 'train', 'trouser', name);
    make(path, jpeg);
    const err = await t.throwsAsync(loadFolderDataset(dir, { threads: 2 }));
    const [firstLine, ...rest] = err.message.split('\n');
    t.deepEqual(rest, [], name);
    const suffix = '; --skip-bad-images (skipBadImages) leaves bad files out';
    t.true(firstLine.startsWith(`${path}: `) && firstLine.endsWith(suffix), firstLine);
    const stated = firstLine.slice(path.length + 2, -suffix.length);
    if (typeof problem === 'string') t.is(stated, problem, name);
    else t.regex(stated, problem, name);
    t.false(existsSync(join(dir, '.eos-cache', 'native-auto.json')), `${name}: nothing cached`);
  }
});

test('skipBadImages leaves the bad files out, lists them, and the cache keeps the list', async (t) => {
  const { dir } = await writeFolder('split', 4, 2);
  const jpeg = await jpegBytes();
  for (const [name, make] of BAD_FILES) make(join(dir, 'train', 'trouser', name), jpeg);
  writeFileSync(join(dir, 'train', 'trouser', 'README.txt'), 'not an image, not an image name');
  // The header pass finds four (cut.jpg's header is intact) and refuses them before decoding anything.
  await t.throwsAsync(loadFolderDataset(dir, { threads: 2 }), {
    message: `${join(dir, 'train/trouser/empty.png')}: empty file (0 bytes); expected a PNG, JPEG or WebP image; and 3 more bad image files; --skip-bad-images (skipBadImages) leaves bad files out`,
  });

  const data = await loadFolderDataset(dir, { threads: 2, skipBadImages: true });
  t.deepEqual(data.train.shape, [12, 1, SIDE, SIDE]);
  t.deepEqual(
    data.skipped.map((b) => b.file),
    [
      'train/trouser/cut.jpg',
      'train/trouser/empty.png',
      'train/trouser/gone.png',
      'train/trouser/notes.png',
      'train/trouser/pipe.png',
    ],
  );
  t.true(data.skipped.every((b) => b.message === `${join(dir, b.file)}: ${b.problem}`));
  t.deepEqual(data.folder.ignored, ['train/trouser/README.txt']);
  t.regex(
    describeSkipped(data.skipped),
    /^5 bad image files skipped: train\/trouser\/cut\.jpg \(truncated JPEG/,
  );

  const again = await loadFolderDataset(dir, { threads: 2, skipBadImages: true });
  t.is(again.folder.decoded, 0);
  t.deepEqual(again.skipped, data.skipped);
  // Without skipping, the cached list of all four is refused, without decoding anything.
  await t.throwsAsync(loadFolderDataset(dir, { threads: 2 }), {
    message:
      /^\S+\/train\/trouser\/cut\.jpg: truncated JPEG: .*; and 4 more bad image files; --skip-bad-images/,
  });

  // The report's line shows the first ten of many.
  const many = Array.from({ length: 12 }, (_, i) => ({ file: `x/${i}.png`, problem: 'p', message: 'm' }));
  t.regex(
    describeSkipped(many),
    /^12 bad image files skipped: x\/0\.png \(p\);.*x\/9\.png \(p\); and 2 more$/,
  );
  // A report that stores the first ten still states the whole count.
  t.regex(
    describeSkipped(many.slice(0, 10), 10, 12),
    /^12 bad image files skipped: .*x\/9\.png \(p\); and 2 more$/,
  );
});

test('a class left with no readable image, or with none at all, is an error even with skipping', async (t) => {
  const { dir } = await writeFolder('split', 2, 1);
  for (const f of ['000.png', '001.png']) writeFileSync(join(dir, 'train', 'trouser', f), '');
  const folderPath = join(dir, 'train', 'trouser');
  await t.throwsAsync(loadFolderDataset(dir, { threads: 2, skipBadImages: true }), {
    message: new RegExp(
      `^${folderPath}: every image of class 'trouser' is bad \\(2 skipped, first: ${folderPath}/000\\.png: empty file`,
    ),
  });

  const empty = await writeFolder('split', 2, 1);
  rmSync(join(empty.dir, 'test', 'tshirt'), { recursive: true });
  mkdirSync(join(empty.dir, 'test', 'tshirt'));
  writeFileSync(join(empty.dir, 'test', 'tshirt', 'labels.csv'), 'a,b\n');
  await t.throwsAsync(loadFolderDataset(empty.dir, { skipBadImages: true }), {
    message: `${join(empty.dir, 'test', 'tshirt')}: class folder 'tshirt' holds no images (expected files ending in .png, .jpg, .jpeg, .webp)`,
  });
});

test('layout errors: classes differing between train and test, train without test, no class folders', async (t) => {
  const a = await writeFolder('split', 2, 1);
  rmSync(join(a.dir, 'test', 'tshirt'), { recursive: true });
  mkdirSync(join(a.dir, 'test', 'shoe'));
  await t.throwsAsync(loadFolderDataset(a.dir), {
    message: `${a.dir}: train/ and test/ must hold the same class folders; only in train/: 'tshirt'; only in test/: 'shoe'`,
  });
  rmSync(join(a.dir, 'test'), { recursive: true });
  await t.throwsAsync(loadFolderDataset(a.dir), {
    message: new RegExp(`^${a.dir}: has a train/ folder but no test/`),
  });
  const flat = freshFolder();
  writeFileSync(join(flat, 'image.png'), '');
  await t.throwsAsync(loadFolderDataset(flat), { message: new RegExp(`^${flat}: holds no class folders`) });
  await t.throwsAsync(loadFolderDataset(join(flat, 'nope')), {
    message: `${join(flat, 'nope')}: no such folder`,
  });
  const b = await writeFolder('split', 2, 1);
  await t.throwsAsync(loadFolderDataset(b.dir, { testFraction: 0.3 }), {
    message: new RegExp(`^${b.dir}: has train/ and test/ folders, so the test set is test/`),
  });
  await t.throwsAsync(loadFolderDataset(b.dir, { channels: 2 as 1 }), {
    message: 'channels: expected 1 (grey) or 3 (RGB), got 2',
  });
  await t.throwsAsync(loadDataset('npy', { dataDir: b.dir, imageSize: 32 }), {
    message: "loadDataset('npy'): imageSize apply to image folders only (dataset 'folder')",
  });
});

test('a single tree is split per class, seeded: the same seed gives the same split', async (t) => {
  const { dir, expected } = await writeFolder('single', 20, 0);
  const a = await loadFolderDataset(dir, { threads: 2, testFraction: 0.25, splitSeed: 3 });
  t.is(a.folder.layout, 'single');
  t.deepEqual(a.train.shape, [45, 1, SIDE, SIDE]);
  t.deepEqual(a.test.shape, [15, 1, SIDE, SIDE]);
  t.deepEqual(a.test.classNames, CLASSES);
  for (let c = 0; c < 3; c++) t.is(a.test.labels.filter((l) => l === c).length, 5);
  // Every image is in exactly one part, with its own label.
  const key = (pixels: Uint8Array) => Buffer.from(pixels).toString('base64');
  const labelOf = new Map(expected.train.map(([c, p]) => [key(p), c]));
  const seen = new Set<string>();
  for (const d of [a.train, a.test])
    for (let i = 0; i < d.labels.length; i++) {
      const k = key(rowOf(d.images, i));
      t.is(labelOf.get(k), d.labels[i]);
      seen.add(k);
    }
  t.is(seen.size, 60);

  const same = await loadFolderDataset(dir, { threads: 2, testFraction: 0.25, splitSeed: 3 });
  t.is(same.folder.decoded, 0, 'the split is drawn after the cache');
  t.deepEqual(same.test.images, a.test.images);
  const other = await loadFolderDataset(dir, { threads: 2, testFraction: 0.25, splitSeed: 4 });
  t.notDeepEqual(other.test.images, a.test.images);
  const byDefault = await loadFolderDataset(dir, { threads: 2 });
  t.deepEqual(byDefault.test.shape[0], 12, 'default test fraction 0.2: 4 of 20 per class');

  // A class of one image cannot be split.
  const tiny = await writeFolder('single', 1, 0);
  await t.throwsAsync(loadFolderDataset(tiny.dir), {
    message: `${join(tiny.dir, 'pullover')}: class 'pullover' has 1 usable image; the test split needs at least 2 per class`,
  });
});

// Root reads and writes whatever the mode bits say, so as root the reader runs in a child process of user
// nobody: an unreadable file, and a data folder it cannot write (the cache goes to $XDG_CACHE_HOME instead).
test('an unreadable file is named; a read-only data folder caches under XDG_CACHE_HOME', async (t) => {
  const { dir } = await writeFolder('split', 2, 1);
  const locked = join(dir, 'train', 'trouser', '000.png');
  const xdg = freshFolder();
  const asRoot = process.getuid?.() === 0;
  chmodSync(locked, 0o000);
  chmodSync(xdg, 0o777);
  const writable: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }))
      if (e.isDirectory()) {
        writable.push(join(d, e.name));
        walk(join(d, e.name));
      }
  };
  walk(dir);
  for (const d of [dir, ...writable]) chmodSync(d, 0o555);
  if (asRoot) chmodSync(root, 0o755);
  try {
    const loader = new URL('../lib/data/folder-dataset.js', import.meta.url).href;
    const child = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { loadFolderDataset } from '${loader}';
         const dir = ${JSON.stringify(dir)};
         try { await loadFolderDataset(dir, { threads: 2 }); } catch (e) { console.log(e.message); }
         for (let i = 0; i < 2; i++) {
           const r = await loadFolderDataset(dir, { threads: 2, skipBadImages: true });
           console.log(JSON.stringify({ cache: r.folder.cache, decoded: r.folder.decoded, n: r.train.shape[0] }));
         }`,
      ],
      {
        encoding: 'utf8',
        env: { ...process.env, XDG_CACHE_HOME: xdg, HOME: xdg },
        ...(asRoot ? { uid: 65534, gid: 65534 } : {}),
      },
    );
    t.is(child.status, 0, child.stderr);
    const [refusal, first, second] = child.stdout.trim().split('\n');
    t.is(
      refusal,
      `${locked}: cannot read the file: permission denied; --skip-bad-images (skipBadImages) leaves bad files out`,
    );
    const cacheDir = JSON.parse(first).cache.dir as string;
    t.true(cacheDir.startsWith(join(xdg, 'eos-imbalance', 'image-folders')), cacheDir);
    t.deepEqual(JSON.parse(first), { cache: { dir: cacheDir, hit: false }, decoded: 8, n: 5 });
    t.deepEqual(JSON.parse(second), { cache: { dir: cacheDir, hit: true }, decoded: 0, n: 5 });
    t.false(existsSync(join(dir, '.eos-cache')));
  } finally {
    for (const d of [dir, ...writable]) chmodSync(d, 0o755);
    chmodSync(locked, 0o644);
  }
});

test('an aborted load stops at the next file with an AbortError', async (t) => {
  const { dir } = await writeFolder('split', 4, 2);
  const controller = new AbortController();
  let decoded = 0;
  const err = await t.throwsAsync(
    loadFolderDataset(dir, {
      threads: 1,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.stage === 'decode' && ++decoded === 5) controller.abort();
      },
    }),
  );
  t.is(err.name, 'AbortError');
  t.is(decoded, 5);
  t.false(existsSync(join(dir, '.eos-cache', 'native-auto.json')));
});

test('the pool keeps order, bounds concurrency and stops at the first failure', async (t) => {
  let running = 0;
  let most = 0;
  const out = await runPool(20, 3, async (i) => {
    running++;
    most = Math.max(most, running);
    await new Promise((r) => setTimeout(r, (i * 7) % 5));
    running--;
    return i * i;
  });
  t.deepEqual(
    out,
    Array.from({ length: 20 }, (_, i) => i * i),
  );
  t.is(most, 3);
  let started = 0;
  await t.throwsAsync(
    runPool(100, 2, async (i) => {
      started++;
      if (i === 3) throw new Error('task 3 failed');
      await new Promise((r) => setTimeout(r, 1));
    }),
    { message: 'task 3 failed' },
  );
  t.true(started < 10);
});

test('eos run on an image folder trains, names the classes in its report, and refuses a bad file first', async (t) => {
  const { dir } = await writeFolder('split', 24, 6);
  const out = join(freshFolder(), 'run');
  const flags = ['--dataset', 'folder', '--data-dir', dir, '--depth', '8', '--epochs', '1', '--batch', '16'];
  const { stdout } = await run(process.execPath, [
    eos,
    'run',
    ...flags,
    '--head-epochs',
    '2',
    '--ratio',
    '2',
    '--out',
    out,
  ]);
  t.regex(stdout, /\| eos \(main\) \|/);
  const report = readFileSync(join(out, 'results.md'), 'utf8');
  for (const name of CLASSES) t.regex(report, new RegExp(`\\b${name}\\b`));

  writeFileSync(join(dir, 'test', 'tshirt', 'broken.png'), 'not a png');
  const refusedOut = join(freshFolder(), 'run');
  const err = await t.throwsAsync(run(process.execPath, [eos, 'run', ...flags, '--out', refusedOut]));
  const stderr = String((err as { stderr?: string }).stderr);
  t.regex(
    stderr,
    new RegExp(
      `eos: ${join(dir, 'test', 'tshirt', 'broken.png')}: not a PNG, JPEG or WebP image .*--skip-bad-images`,
    ),
  );
  t.false(existsSync(join(refusedOut, 'checkpoints')), 'no training started');
  const bad = await t.throwsAsync(run(process.execPath, [eos, 'run', ...flags, '--channels', '2']));
  t.regex(String((bad as { stderr?: string }).stderr), /--channels <n>' argument '2' is invalid/);
});
