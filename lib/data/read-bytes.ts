// Reads a data file whole, gunzipping it when it starts with the gzip magic (1f 8b), so every reader accepts
// both the published .gz files and their decompressed form without looking at the file name (an .npy.gz works
// too).
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { DataFileError } from './errors.js';

const gunzipAsync = promisify(gunzip);

export interface FileBytes {
  bytes: Uint8Array;
  /** How to name the data in messages: the path, plus " (after gunzip)" when offsets are into the decompressed bytes. */
  source: string;
}

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

export async function readMaybeGzip(path: string): Promise<FileBytes> {
  let raw: Buffer;
  try {
    raw = await readFile(path);
  } catch (err) {
    throw new DataFileError(path, `cannot read the file (${(err as Error).message})`);
  }
  if (!isGzip(raw)) return { bytes: new Uint8Array(raw.buffer, raw.byteOffset, raw.length), source: path };
  let inflated: Buffer;
  try {
    inflated = await gunzipAsync(raw);
  } catch (err) {
    // zlib does not say where in the compressed stream it stopped; the compressed size at least tells a
    // truncated download from a wrong file.
    throw new DataFileError(
      path,
      `gzip data is corrupt or truncated (${(err as Error).message}; compressed file has ${raw.length} bytes)`,
    );
  }
  return {
    bytes: new Uint8Array(inflated.buffer, inflated.byteOffset, inflated.length),
    source: `${path} (after gunzip)`,
  };
}
