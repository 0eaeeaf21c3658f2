// The first pass over an image folder: each file's header (format, size, grey or colour), read before any pixel
// is decoded, so that a broken file, an unknown format or images of mixed sizes are refused before the long
// decoding pass, and the default tensor shape (the images' own size; 1 channel when all are grey) is known.
import { constants } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { join } from 'node:path';
import sharp, { type Metadata } from 'sharp';
import { FOLDER } from '../defaults.js';
import { badImage, decoderProblem, EXPECTED_FORMATS, readProblem, withReason } from './folder-bad-images.js';
import { runPool } from './folder-pool.js';
import type { BadImage, FolderFile } from './folder-types.js';

export interface ImageHeader {
  width: number;
  height: number;
  /** One colour band (grey, with or without alpha). */
  grey: boolean;
}

export type Inspected = { header: ImageHeader } | { bad: BadImage };

/** The decoded tensor's layout: every image becomes channels x height x width uint8. */
export interface Geometry {
  channels: 1 | 3;
  height: number;
  width: number;
  /** Resize the shorter side to this and centre-crop to height x width; null: decode at the images' own size. */
  resize: number | null;
}

const FORMATS = new Set(['png', 'jpeg', 'webp']);

/**
 * The bytes of a file, or why they are not an image to decode. failOn 'error' refuses truncated and corrupt
 * data but accepts files with mere warnings (libjpeg's "extraneous bytes before marker"), as PIL does.
 */
export async function readImageFile(dir: string, file: string): Promise<Buffer | BadImage> {
  let bytes: Buffer;
  let handle: FileHandle | undefined;
  try {
    // O_NONBLOCK: opening a named pipe called x.png must not wait for a writer forever (it has no effect on
    // regular files), and anything but a regular file is refused before it is read.
    handle = await open(join(dir, file), constants.O_RDONLY | constants.O_NONBLOCK);
    if (!(await handle.stat()).isFile())
      return badImage(dir, file, 'not a regular file (a named pipe, socket or device)');
    bytes = await handle.readFile();
  } catch (err) {
    return badImage(dir, file, readProblem(err));
  } finally {
    await handle?.close().catch(() => {});
  }
  if (bytes.length === 0) return badImage(dir, file, `empty file (0 bytes); expected ${EXPECTED_FORMATS}`);
  return bytes;
}

async function inspectOne(dir: string, file: string): Promise<Inspected> {
  const bytes = await readImageFile(dir, file);
  if (!Buffer.isBuffer(bytes)) return { bad: bytes };
  let meta: Metadata;
  try {
    meta = await withReason(() => sharp(bytes, { failOn: 'error' }).metadata());
  } catch (err) {
    return { bad: badImage(dir, file, decoderProblem(err, bytes)) };
  }
  if (meta.format === undefined || !FORMATS.has(meta.format))
    return {
      bad: badImage(dir, file, `is a ${meta.format ?? 'unknown'} file; expected ${EXPECTED_FORMATS}`),
    };
  if (!(meta.width > 0 && meta.height > 0))
    return { bad: badImage(dir, file, `header gives no image size (${meta.width} x ${meta.height})`) };
  const bands = (meta.channels ?? 0) - (meta.hasAlpha ? 1 : 0);
  return { header: { width: meta.width, height: meta.height, grey: bands === 1 } };
}

/** Headers of `files` (relative to `dir`), in order; at most `threads` files are read at once. */
export function inspectImages(
  dir: string,
  files: FolderFile[],
  threads: number,
  onDone?: (done: number) => void,
  signal?: AbortSignal,
): Promise<Inspected[]> {
  return runPool(files.length, threads, (i) => inspectOne(dir, files[i].path), onDone, signal);
}

/**
 * The tensor layout for the readable images. With `imageSize`, S x S after resizing; otherwise the images' one
 * size, which must be square (the CIFAR ResNet takes square inputs), else an error that names two files of
 * different sizes and says to pass --image-size.
 */
export function resolveGeometry(
  dir: string,
  files: FolderFile[],
  inspected: Inspected[],
  options: { imageSize?: number; channels?: 1 | 3 },
): Geometry {
  const good: { file: string; header: ImageHeader }[] = [];
  inspected.forEach((r, i) => {
    if ('header' in r) good.push({ file: files[i].path, header: r.header });
  });
  const channels = options.channels ?? (good.every((g) => g.header.grey) ? 1 : 3);
  if (options.imageSize !== undefined) {
    const s = options.imageSize;
    return { channels, height: s, width: s, resize: s };
  }
  const sizeOf = (h: ImageHeader) => `${h.width} x ${h.height}`;
  const bySize = new Map<string, string>();
  for (const g of good) if (!bySize.has(sizeOf(g.header))) bySize.set(sizeOf(g.header), g.file);
  const hint = `pass --image-size S (imageSize) to resize the shorter side to S and centre-crop`;
  if (bySize.size > 1) {
    const [[sizeA, fileA], [sizeB, fileB]] = [...bySize];
    throw new Error(
      `${dir}: images differ in size (width x height): ${join(dir, fileA)} is ${sizeA}, ${join(dir, fileB)} is ${sizeB}` +
        `${bySize.size > 2 ? ` (${bySize.size} sizes in all)` : ''}; ${hint}`,
    );
  }
  const { width, height } = good[0].header;
  if (width !== height)
    throw new Error(`${dir}: images are ${width} x ${height} (width x height), not square; ${hint}`);
  if (width > FOLDER.maxImageSize)
    throw new Error(`${dir}: images are ${width} x ${height}, larger than ${FOLDER.maxImageSize}; ${hint}`);
  return { channels, height, width, resize: null };
}
