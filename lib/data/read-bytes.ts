// Reads a data file whole, gunzipping it when it starts with the gzip magic (1f 8b), so every reader accepts
// both the published .gz files and their decompressed form without looking at the file name (an .npy.gz works
// too).
//
// Decompression is bounded: a few kilobytes of gzip can expand to gigabytes (a "gzip bomb", or just a wrong
// file), so the bytes are inflated as a stream and the reader's `limit` callback is shown the first bytes as
// they arrive. Once it has seen the format's header it says how many bytes the file may hold, and inflating
// stops with an error as soon as the output passes that. Memory stays within the declared size plus one
// zlib chunk. Raw files are read whole: their size is what is on disk, not a multiplier of it.
import { constants as bufferConstants } from 'node:buffer';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import { DataFileError } from './errors.js';

export interface FileBytes {
  bytes: Uint8Array;
  /** How to name the data in messages: the path, plus " (after gunzip)" when offsets are into the decompressed bytes. */
  source: string;
}

/** How many decompressed bytes a file may hold, and why (for the message when it holds more). */
export interface InflateLimit {
  maxBytes: number;
  /** e.g. "the IDX header declares 10 x 28 x 28 image bytes after its 16-byte header" */
  reason: string;
}

/**
 * Shown the decompressed bytes so far (a growing prefix): undefined while the header is incomplete, else the
 * limit. It throws the reader's own error for a header that is wrong, so the message is the same as for the
 * raw file.
 */
export type LimitFromHeader = (head: Uint8Array, source: string) => InflateLimit | undefined;

/** No header of a supported format is longer than this; a callback still undecided here is a bug. */
const MAX_HEADER_BYTES = (1 << 20) + 64;

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** The whole of `path`; for gzip data, inflated within `limit` (see LimitFromHeader). */
export async function readMaybeGzip(path: string, limit: LimitFromHeader): Promise<FileBytes> {
  const magic = await readStart(path, 2);
  if (!isGzip(magic)) return { bytes: await readWhole(path), source: path };
  return { bytes: await gunzipBounded(path, limit), source: `${path} (after gunzip)` };
}

function cannotRead(path: string, err: unknown): DataFileError {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'EISDIR') return new DataFileError(path, 'is a directory, expected a file');
  // Node's text is "ENOENT: no such file or directory, open '<path>'": the path is already in front.
  const why = e.message.replace(/^[A-Z]+: /, '').replace(/, \w+ '.*'$/, '');
  return new DataFileError(path, `cannot read the file (${e.code ? `${e.code}: ` : ''}${why})`);
}

async function readStart(path: string, length: number): Promise<Uint8Array> {
  try {
    const file = await open(path, 'r');
    try {
      const buffer = new Uint8Array(length);
      const { bytesRead } = await file.read(buffer, 0, length, 0);
      return buffer.subarray(0, bytesRead);
    } finally {
      await file.close();
    }
  } catch (err) {
    throw cannotRead(path, err);
  }
}

async function readWhole(path: string): Promise<Uint8Array> {
  try {
    const file = await open(path, 'r');
    try {
      const raw = await file.readFile();
      return new Uint8Array(raw.buffer, raw.byteOffset, raw.length);
    } finally {
      await file.close();
    }
  } catch (err) {
    throw cannotRead(path, err);
  }
}

async function gunzipBounded(path: string, limitFromHeader: LimitFromHeader): Promise<Uint8Array> {
  const source = `${path} (after gunzip)`;
  const input = createReadStream(path);
  const gunzip = createGunzip();
  input.on('error', (err) => gunzip.destroy(err));
  input.pipe(gunzip);
  const chunks: Buffer[] = [];
  let total = 0;
  let limit: InflateLimit | undefined;
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      total += chunk.length;
      if (limit === undefined) {
        const head = chunks.length === 1 ? chunk : Buffer.concat(chunks, total);
        limit = limitFromHeader(head, source);
        if (limit === undefined && total > MAX_HEADER_BYTES) {
          throw new DataFileError(source, `no complete header in the first ${total} bytes`);
        }
        if (limit !== undefined && limit.maxBytes > bufferConstants.MAX_LENGTH) {
          throw new DataFileError(
            source,
            `${limit.reason}: ${limit.maxBytes} bytes, more than one file can hold in memory ` +
              `(${bufferConstants.MAX_LENGTH}); the header is corrupt`,
          );
        }
      }
      if (limit !== undefined && total > limit.maxBytes) {
        throw new DataFileError(
          path,
          `gzip data are longer than the ${limit.maxBytes} bytes expected (${limit.reason}); ` +
            `stopped after ${total} decompressed bytes`,
        );
      }
    }
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (err instanceof DataFileError || typeof e.code !== 'string') throw err;
    if (!e.code.startsWith('Z_')) throw cannotRead(path, err);
    // zlib does not say where in the compressed stream it stopped; the compressed size at least tells a
    // truncated download from a wrong file.
    throw new DataFileError(
      path,
      `gzip data is corrupt or truncated (${e.message}; compressed file has ${input.bytesRead} bytes, ` +
        `${total} decompressed before the error)`,
    );
  } finally {
    input.destroy();
    gunzip.destroy();
  }
  const out = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total);
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}
