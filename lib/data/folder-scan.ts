// Finds the images of an image folder (torchvision's ImageFolder layout) and their classes, without decoding:
//   DIR/train/<class>/**/*.{png,jpg,jpeg,webp} and DIR/test/<class>/**/...   ('split': the parts as given)
//   DIR/<class>/**/*.{png,jpg,jpeg,webp}                                     ('single': split later, seeded)
// DIR counts as 'split' when DIR/train/ is a folder. Class names are the sorted folder names (code-unit order,
// as Python's sorted() for names in the Basic Multilingual Plane), so class k is the same on every machine.
// Hidden entries (a leading '.', e.g. the .eos-cache folder or .DS_Store) are skipped; other files without an
// image extension are listed in `ignored`, never dropped silently. Each file's size and mtime are recorded so
// the cache can tell whether anything changed.
import type { Dirent } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DataFileError } from './errors.js';
import { runPool } from './folder-pool.js';
import type { FolderFile, FolderLayout } from './folder-types.js';

export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.webp'] as const;
const EXTENSION_LIST = IMAGE_EXTENSIONS.join(', ');

export interface FolderScan {
  dir: string;
  layout: FolderLayout;
  classNames: string[];
  /** The train part's files first (class by class, each in path order), then the test part's. */
  files: FolderFile[];
  /** Non-hidden files in class folders (or beside them) without an image extension, relative paths. */
  ignored: string[];
}

const isHidden = (name: string) => name.startsWith('.');
const isImage = (name: string) => IMAGE_EXTENSIONS.some((e) => name.toLowerCase().endsWith(e));
const byCodeUnit = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

async function listFolder(path: string): Promise<Dirent[]> {
  try {
    const entries = await readdir(path, { withFileTypes: true });
    return entries.filter((e) => !isHidden(e.name)).sort((a, b) => byCodeUnit(a.name, b.name));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new DataFileError(
      path,
      code === 'ENOENT'
        ? 'no such folder'
        : code === 'ENOTDIR'
          ? 'is a file, expected a folder of images'
          : `cannot list the folder (${code ?? (err as Error).message})`,
    );
  }
}

/** Whether an entry is a folder, following symbolic links (a broken link is not a folder). */
async function isFolder(parent: string, entry: Dirent): Promise<boolean> {
  if (entry.isDirectory()) return true;
  if (!entry.isSymbolicLink()) return false;
  return stat(join(parent, entry.name)).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

/** The sorted names of the class folders in `path`; the other files there go to `ignored` (as `prefix` + name). */
async function classFolders(path: string, prefix: string, ignored: string[]): Promise<string[]> {
  const names: string[] = [];
  for (const entry of await listFolder(path)) {
    if (await isFolder(path, entry)) names.push(entry.name);
    else ignored.push(prefix + entry.name);
  }
  return names;
}

/** Relative paths of every image below `root` (recursively, following links, each folder once), path order. */
async function imagesBelow(root: string, prefix: string, ignored: string[]): Promise<string[]> {
  const found: string[] = [];
  const visited = new Set<string>();
  const walk = async (path: string, relative: string): Promise<void> => {
    const s = await stat(path).catch((err: NodeJS.ErrnoException) => {
      throw new DataFileError(path, `cannot read the folder (${err.code ?? err.message})`);
    });
    const id = `${s.dev}:${s.ino}`;
    if (visited.has(id)) return; // a symbolic link back up the tree
    visited.add(id);
    for (const entry of await listFolder(path)) {
      const rel = `${relative}${entry.name}`;
      if (await isFolder(path, entry)) await walk(join(path, entry.name), `${rel}/`);
      else if (isImage(entry.name)) found.push(rel);
      else ignored.push(rel);
    }
  };
  await walk(root, prefix);
  return found.sort(byCodeUnit);
}

interface PartFiles {
  part: 'train' | 'test';
  /** Relative paths, per class. */
  byClass: string[][];
}

async function partFiles(
  dir: string,
  partPrefix: string,
  part: 'train' | 'test',
  classNames: string[],
  ignored: string[],
): Promise<PartFiles> {
  const byClass: string[][] = [];
  for (const name of classNames) {
    const files = await imagesBelow(join(dir, partPrefix, name), `${partPrefix}${name}/`, ignored);
    if (files.length === 0) {
      throw new DataFileError(
        join(dir, partPrefix, name),
        `class folder '${name}' holds no images (expected files ending in ${EXTENSION_LIST})`,
      );
    }
    byClass.push(files);
  }
  return { part, byClass };
}

function sameClasses(dir: string, train: string[], test: string[]): void {
  const onlyTrain = train.filter((c) => !test.includes(c));
  const onlyTest = test.filter((c) => !train.includes(c));
  if (onlyTrain.length + onlyTest.length === 0) return;
  const list = (names: string[]) => (names.length > 0 ? names.map((n) => `'${n}'`).join(', ') : 'none');
  throw new DataFileError(
    dir,
    `train/ and test/ must hold the same class folders; only in train/: ${list(onlyTrain)}; only in test/: ${list(onlyTest)}`,
  );
}

/** Sizes and modification times of every file (a file that cannot be stat'ed gets -1: its read fails later, named). */
async function statFiles(dir: string, parts: PartFiles[], threads: number): Promise<FolderFile[]> {
  const files: FolderFile[] = [];
  for (const { part, byClass } of parts)
    byClass.forEach((paths, label) => {
      for (const path of paths) files.push({ path, part, label, size: -1, mtimeMs: -1 });
    });
  await runPool(files.length, threads, async (i) => {
    const s = await stat(join(dir, files[i].path)).catch(() => null);
    if (s !== null) {
      files[i].size = s.size;
      files[i].mtimeMs = s.mtimeMs;
    }
  });
  return files;
}

export async function scanImageFolder(dir: string, threads = 8): Promise<FolderScan> {
  const ignored: string[] = [];
  const top = await listFolder(dir);
  const trainEntry = top.find((e) => e.name === 'train');
  const split = trainEntry !== undefined && (await isFolder(dir, trainEntry));
  let classNames: string[];
  let parts: PartFiles[];
  if (split) {
    const testEntry = top.find((e) => e.name === 'test');
    if (testEntry === undefined || !(await isFolder(dir, testEntry))) {
      throw new DataFileError(
        dir,
        'has a train/ folder but no test/ folder; the split layout needs train/<class>/ and test/<class>/ ' +
          '(or put the class folders directly in it and let --test-fraction carve the test set)',
      );
    }
    for (const e of top) if (e.name !== 'train' && e.name !== 'test') ignored.push(e.name);
    classNames = await classFolders(join(dir, 'train'), 'train/', ignored);
    const testClasses = await classFolders(join(dir, 'test'), 'test/', ignored);
    if (classNames.length === 0) {
      throw new DataFileError(
        join(dir, 'train'),
        'holds no class folders (expected train/<class>/*.png ...)',
      );
    }
    sameClasses(dir, classNames, testClasses);
    parts = [
      await partFiles(dir, 'train/', 'train', classNames, ignored),
      await partFiles(dir, 'test/', 'test', classNames, ignored),
    ];
  } else {
    classNames = await classFolders(dir, '', ignored);
    if (classNames.length === 0) {
      throw new DataFileError(
        dir,
        `holds no class folders; expected <class>/ folders of images (${EXTENSION_LIST}), or train/<class>/ and test/<class>/`,
      );
    }
    parts = [await partFiles(dir, '', 'train', classNames, ignored)];
  }
  if (classNames.length < 2) {
    throw new DataFileError(
      dir,
      `holds one class folder ('${classNames[0]}'); a classifier needs at least two`,
    );
  }
  const files = await statFiles(dir, parts, threads);
  return { dir, layout: split ? 'split' : 'single', classNames, files, ignored: ignored.sort(byCodeUnit) };
}
