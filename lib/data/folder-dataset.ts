// `loadFolderDataset`: a train/test Dataset from a folder of PNG/JPEG/WebP images in torchvision's ImageFolder
// layout. The steps, each in its own file: find the files and classes (folder-scan.ts); use the cached tensor
// when nothing changed (folder-cache.ts); else read every header (folder-inspect.ts), refuse or skip the bad
// files, fix the tensor shape, decode (folder-decode.ts) and cache; then, for a single tree, draw the test
// split (folder-split.ts). Every problem is found before the caller starts training, and is named per file.
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { FOLDER, LIMITS, maxThreads } from '../defaults.js';
import { subsetDataset } from './dataset-ops.js';
import { DataFileError } from './errors.js';
import { refuseBadImages } from './folder-bad-images.js';
import { type CachedTensor, cacheFolders, cacheKey, readCache, writeCache } from './folder-cache.js';
import { decodeImages } from './folder-decode.js';
import { inspectImages, resolveGeometry } from './folder-inspect.js';
import { type FolderScan, scanImageFolder } from './folder-scan.js';
import { splitTestSet } from './folder-split.js';
import type { BadImage, FolderCacheInfo, FolderOptions, FolderTrainTest } from './folder-types.js';
import type { Dataset } from './types.js';

export type { BadImage, FolderOptions, FolderProgress, FolderTrainTest } from './folder-types.js';

/** Throws a RangeError naming the option unless every given option is in range. */
export function checkFolderOptions(o: FolderOptions): void {
  const integer = (name: string, v: number | undefined, min: number, max: number) => {
    if (v !== undefined && !(Number.isSafeInteger(v) && v >= min && v <= max))
      throw new RangeError(`${name}: expected an integer in [${min}, ${max}], got ${String(v)}`);
  };
  integer('imageSize', o.imageSize, 1, FOLDER.maxImageSize);
  integer('splitSeed', o.splitSeed, 0, LIMITS.seed);
  integer('threads', o.threads, 1, maxThreads());
  if (o.channels !== undefined && o.channels !== 1 && o.channels !== 3)
    throw new RangeError(`channels: expected 1 (grey) or 3 (RGB), got ${String(o.channels)}`);
  if (o.testFraction !== undefined && !(o.testFraction > 0 && o.testFraction < 1))
    throw new RangeError(`testFraction: expected a number in (0, 1), got ${String(o.testFraction)}`);
}

/** Every class keeps at least one image in each part after the bad files are left out. */
function checkClassesLeft(scan: FolderScan, kept: boolean[], skipped: BadImage[]): void {
  const parts = scan.layout === 'split' ? (['train', 'test'] as const) : (['train'] as const);
  for (const part of parts) {
    const left = new Array<number>(scan.classNames.length).fill(0);
    scan.files.forEach((f, i) => {
      if (kept[i] && f.part === part) left[f.label]++;
    });
    const c = left.indexOf(0);
    if (c < 0) continue;
    const folder = scan.layout === 'split' ? join(part, scan.classNames[c]) : scan.classNames[c];
    const prefix = `${folder}/`;
    const bad = skipped.filter((b) => b.file.startsWith(prefix)).length;
    throw new DataFileError(
      join(scan.dir, folder),
      `every image of class '${scan.classNames[c]}' is bad (${bad} skipped, first: ${skipped.find((b) => b.file.startsWith(prefix))?.message}); ` +
        'a class needs at least one readable image',
    );
  }
}

interface Tensor extends CachedTensor {
  /** Per scanned file: whether it is a row of the tensor. */
  kept: boolean[];
  /** Files this load decoded (0 from the cache). */
  decoded: number;
}

/** Inspects, checks and decodes every file of the scan (the slow path, when the cache has nothing). */
async function decodeFolder(scan: FolderScan, o: FolderOptions, threads: number): Promise<Tensor> {
  const { dir, files } = scan;
  const total = files.length;
  const inspected = await inspectImages(
    dir,
    files,
    threads,
    (done) => o.onProgress?.({ stage: 'inspect', done, total }),
    o.signal,
  );
  const skipped: BadImage[] = [];
  const kept = inspected.map((r) => {
    if ('bad' in r) skipped.push(r.bad);
    return !('bad' in r);
  });
  if (!o.skipBadImages) refuseBadImages(dir, skipped);
  checkClassesLeft(scan, kept, skipped);
  const geometry = resolveGeometry(dir, files, inspected, o);
  const rows = files.filter((_, i) => kept[i]).map((f) => f.path);
  const decoded = await decodeImages(
    dir,
    rows,
    geometry,
    threads,
    (done) => o.onProgress?.({ stage: 'decode', done, total: rows.length }),
    o.signal,
  );
  if (decoded.bad.length > 0) {
    if (!o.skipBadImages)
      refuseBadImages(
        dir,
        decoded.bad.map((b) => b.bad),
      );
    const rowToFile = kept.flatMap((k, i) => (k ? [i] : []));
    for (const { index, bad } of decoded.bad) {
      kept[rowToFile[index]] = false;
      skipped.push(bad);
    }
    const order = new Map(files.map((f, i) => [f.path, i]));
    skipped.sort((a, b) => order.get(a.file)! - order.get(b.file)!);
    checkClassesLeft(scan, kept, skipped);
  }
  // Close the gaps the bad rows left, in place (rows only move down).
  const size = geometry.channels * geometry.height * geometry.width;
  const badRows = new Set(decoded.bad.map((b) => b.index));
  let n = 0;
  for (let row = 0; row < rows.length; row++) {
    if (badRows.has(row)) continue;
    if (n !== row) decoded.images.copyWithin(n * size, row * size, (row + 1) * size);
    n++;
  }
  return {
    images: decoded.images.subarray(0, n * size),
    shape: [n, geometry.channels, geometry.height, geometry.width],
    skipped,
    kept,
    decoded: rows.length,
  };
}

function part(scan: FolderScan, tensor: CachedTensor, labels: Int32Array, from: number, to: number): Dataset {
  const [, c, h, w] = tensor.shape;
  const size = c * h * w;
  return {
    images: tensor.images.subarray(from * size, to * size),
    labels: labels.subarray(from, to),
    shape: [to - from, c, h, w],
    classes: scan.classNames.length,
    classNames: scan.classNames,
  };
}

/**
 * Loads DIR/train/<class>/ + DIR/test/<class>/, or a single DIR/<class>/ tree whose test set is a seeded,
 * stratified share (`testFraction`, default FOLDER.testFraction) of each class. See FolderOptions.
 */
export async function loadFolderDataset(dir: string, options: FolderOptions = {}): Promise<FolderTrainTest> {
  checkFolderOptions(options);
  const threads = options.threads ?? availableParallelism();
  const scan = await scanImageFolder(dir, threads);
  if (scan.layout === 'split' && options.testFraction !== undefined) {
    throw new DataFileError(
      dir,
      'has train/ and test/ folders, so the test set is test/; --test-fraction (testFraction) applies to a single <class>/ tree',
    );
  }
  const key = cacheKey(scan.files, options);
  const folders = cacheFolders(dir, options.cacheDir);
  const cached = await readCache(folders, key);
  let tensor: Tensor;
  let cache: FolderCacheInfo;
  if (cached !== null) {
    if (!options.skipBadImages) refuseBadImages(dir, cached.skipped);
    const bad = new Set(cached.skipped.map((b) => b.file));
    tensor = { ...cached, kept: scan.files.map((f) => !bad.has(f.path)), decoded: 0 };
    cache = { dir: cached.dir, hit: true };
  } else {
    tensor = await decodeFolder(scan, options, threads);
    const written = writeCache(folders, key, tensor);
    cache =
      'dir' in written ? { dir: written.dir, hit: false } : { dir: null, hit: false, note: written.note };
  }
  const keptFiles = scan.files.filter((_, i) => tensor.kept[i]);
  if (keptFiles.length !== tensor.shape[0]) {
    throw new Error(`${dir}: ${keptFiles.length} usable files but ${tensor.shape[0]} decoded images (a bug)`);
  }
  const labels = Int32Array.from(keptFiles, (f) => f.label);
  let train: Dataset;
  let test: Dataset;
  if (scan.layout === 'split') {
    // The scan lists the train part first, so each part is a contiguous run of rows: views, no copies.
    const nTrain = keptFiles.filter((f) => f.part === 'train').length;
    train = part(scan, tensor, labels, 0, nTrain);
    test = part(scan, tensor, labels, nTrain, keptFiles.length);
  } else {
    const all = part(scan, tensor, labels, 0, keptFiles.length);
    const split = splitTestSet(labels, scan.classNames, {
      fraction: options.testFraction ?? FOLDER.testFraction,
      seed: options.splitSeed ?? 0,
      dir,
    });
    train = subsetDataset(all, split.train);
    test = subsetDataset(all, split.test);
  }
  return {
    train,
    test,
    skipped: tensor.skipped,
    folder: {
      layout: scan.layout,
      decoded: tensor.decoded,
      cache,
      ignored: scan.ignored,
    },
  };
}
