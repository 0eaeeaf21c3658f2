// The decoded tensor of an image folder, cached so that the second load reads one NPY file instead of decoding
// every image again. Per set of decoding options ("size32-ch3", "native-auto", ...) the cache folder holds
//   <options>.json          the manifest: every image file's relative path, size and mtime, the options, the
//                           decoder's version, the tensor's shape, the files left out as bad, the NPY's name
//   <options>-<hash>.npy    uint8 N x C x H x W, the rows in the manifest's file order minus the bad files
// The cache is used only when the manifest's files, options and decoder equal the current ones exactly: a file
// added, removed, rewritten (size or mtime) or an option changed decodes afresh. The test split of a single
// tree is drawn after the cache, so --test-fraction and the split seed do not shape the cached tensor and a new
// split does not decode again.
//
// Where: <data dir>/.eos-cache/ by default; when that cannot be written (a read-only data set), under
// $XDG_CACHE_HOME/eos-imbalance/image-folders/<hash of the data dir's absolute path>/ (~/.cache when unset).
// Both are read, the data dir's first, so a cache shipped with a read-only data set is used too.
//
// Writes: the NPY first, then the manifest, each atomically (temporary name + rename), and the NPY's name carries
// a hash of its manifest, so a reader never pairs a manifest with another load's tensor, even while another
// process rewrites the cache.
import { createHash } from 'node:crypto';
import { accessSync, constants, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { writeFileAtomic } from '../io/atomic-write.js';
import type { BadImage, FolderFile } from './folder-types.js';
import { readNpyImages } from './npy.js';
import { npyHeader } from './npy-write.js';

const FORMAT = 'eos-imbalance image-folder cache 1';

/** What the cached tensor depends on: equal keys, equal tensors. */
export interface CacheKey {
  format: string;
  decoder: string;
  options: { imageSize: number | null; channels: 1 | 3 | null };
  /** [relative path, size, mtimeMs] of every image file, in scan order (bad files included). */
  files: [string, number, number][];
}

export interface Manifest extends CacheKey {
  shape: [number, number, number, number];
  /** The NPY file's name, in the same folder. */
  images: string;
  /** Files left out as bad (a load without skipBadImages refuses them without decoding anything). */
  skipped: BadImage[];
}

export interface CachedTensor {
  images: Uint8Array;
  shape: [number, number, number, number];
  skipped: BadImage[];
}

export function cacheKey(files: FolderFile[], options: { imageSize?: number; channels?: 1 | 3 }): CacheKey {
  return {
    format: FORMAT,
    decoder: `sharp ${sharp.versions.sharp} libvips ${sharp.versions.vips}`,
    options: { imageSize: options.imageSize ?? null, channels: options.channels ?? null },
    files: files.map((f) => [f.path, f.size, f.mtimeMs]),
  };
}

/** The file-name stem of a set of options: size32-ch3, native-auto, ... */
function stem(key: CacheKey): string {
  const { imageSize, channels } = key.options;
  return `${imageSize === null ? 'native' : `size${imageSize}`}-${channels === null ? 'auto' : `ch${channels}`}`;
}

const sameKey = (a: CacheKey, b: CacheKey) =>
  JSON.stringify([a.format, a.decoder, a.options, a.files]) ===
  JSON.stringify([b.format, b.decoder, b.options, b.files]);

/** The folders the cache of `dataDir` may live in, in the order they are read and tried for writing. */
export function cacheFolders(dataDir: string, cacheDir?: string | false): string[] {
  if (cacheDir === false) return [];
  if (cacheDir !== undefined) return [cacheDir];
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  const id = createHash('sha256').update(resolve(dataDir)).digest('hex').slice(0, 16);
  return [join(dataDir, '.eos-cache'), join(base, 'eos-imbalance', 'image-folders', id)];
}

/** The cached tensor for `key`, or null when no folder holds a matching, readable one. */
export async function readCache(
  folders: string[],
  key: CacheKey,
): Promise<(CachedTensor & { dir: string }) | null> {
  for (const dir of folders) {
    let manifest: Manifest;
    try {
      manifest = JSON.parse(readFileSync(join(dir, `${stem(key)}.json`), 'utf8')) as Manifest;
    } catch {
      continue; // none yet, or unreadable: decode afresh
    }
    if (!sameKey(manifest, key) || typeof manifest.images !== 'string' || manifest.images.includes('/'))
      continue;
    try {
      const { images, shape } = await readNpyImages(join(dir, manifest.images), 'NCHW');
      if (shape.join() !== manifest.shape.join()) continue;
      return { images, shape, skipped: manifest.skipped ?? [], dir };
    } catch {
      // A tensor removed or damaged behind the manifest's back: decode afresh and rewrite it.
    }
  }
  return null;
}

function writable(dir: string): boolean {
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Stores the tensor in the first folder that can be written; returns that folder, or a note saying why none
 * could (the load goes on without a cache: a read-only data set must still load).
 */
export function writeCache(
  folders: string[],
  key: CacheKey,
  tensor: CachedTensor,
): { dir: string } | { note: string } {
  if (folders.length === 0) return { note: 'caching is off' };
  const body = JSON.stringify({ ...key, shape: tensor.shape, skipped: tensor.skipped });
  const hash = createHash('sha256').update(body).digest('hex').slice(0, 16);
  const images = `${stem(key)}-${hash}.npy`;
  const failures: string[] = [];
  for (const dir of folders) {
    if (!writable(dir)) {
      failures.push(`${dir} is not writable`);
      continue;
    }
    try {
      writeFileAtomic(join(dir, images), [npyHeader(tensor.images, tensor.shape), tensor.images]);
      const manifest: Manifest = { ...key, shape: tensor.shape, images, skipped: tensor.skipped };
      writeFileAtomic(join(dir, `${stem(key)}.json`), [Buffer.from(`${JSON.stringify(manifest)}\n`)]);
    } catch (err) {
      failures.push((err as Error).message);
      continue;
    }
    // Tensors of earlier versions of this folder with these options: no manifest points at them any more.
    for (const name of readdirSync(dir))
      if (name.startsWith(`${stem(key)}-`) && name.endsWith('.npy') && name !== images)
        rmSync(join(dir, name), { force: true });
    return { dir };
  }
  return { note: `no cache written (${failures.join('; ')})` };
}
