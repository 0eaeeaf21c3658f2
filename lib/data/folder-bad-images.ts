// What is wrong with an image file, as one line that names the file: the reader either refuses the folder
// with the first such line (before any training) or, with skipBadImages, leaves the files out and lists them.
import { join } from 'node:path';
import { DataFileError } from './errors.js';
import type { BadImage } from './folder-types.js';

export const EXPECTED_FORMATS = 'a PNG, JPEG or WebP image';

export function badImage(dir: string, file: string, problem: string): BadImage {
  return { file, problem, message: `${join(dir, file)}: ${problem}` };
}

/** Why a file could not be read, from its system error (no second copy of the path, which the message has). */
export function readProblem(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const reasons: Record<string, string> = {
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    ENOENT: 'no such file (removed, or a broken symbolic link)',
    EISDIR: 'is a folder',
    EIO: 'input/output error',
    ERR_FS_FILE_TOO_LARGE: 'larger than 2 GiB',
  };
  return `cannot read the file: ${(e.code && reasons[e.code]) ?? e.message}`;
}

/**
 * Whether an image file ends before its format says it should: a JPEG without its end-of-image marker (FF D9;
 * trailing zero padding allowed), a PNG without its IEND chunk, a WebP shorter than its RIFF header says. Asked
 * only of files that failed to decode, so that "truncated" is stated from the bytes, the same on every run:
 * libvips keeps one error buffer for all threads, so with several images in flight sharp's own message for a
 * failure can be another image's, or "Unknown error".
 */
function truncation(bytes: Uint8Array): string | null {
  const n = bytes.length;
  const startsWith = (...magic: number[]) => magic.every((b, i) => bytes[i] === b);
  if (startsWith(0xff, 0xd8, 0xff)) {
    let end = n;
    while (end > 2 && bytes[end - 1] === 0) end--;
    if (bytes[end - 2] !== 0xff || bytes[end - 1] !== 0xd9)
      return `truncated JPEG: its ${n} bytes end without the end-of-image marker (FF D9)`;
  } else if (startsWith(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) {
    if (Buffer.from(bytes.buffer, bytes.byteOffset, n).lastIndexOf('IEND') < 0)
      return `truncated PNG: its ${n} bytes hold no IEND chunk`;
  } else if (startsWith(0x52, 0x49, 0x46, 0x46) && n >= 12) {
    const declared = new DataView(bytes.buffer, bytes.byteOffset, n).getUint32(4, true) + 8;
    if (declared > n) return `truncated WebP: the RIFF header gives ${declared} bytes, the file has ${n}`;
  }
  return null;
}

/** sharp's message is "Unknown error" when another thread cleared libvips' shared error buffer first. */
export function isUninformative(err: unknown): boolean {
  const message = err instanceof Error ? err.message.trim() : '';
  return message === '' || message === 'Unknown error';
}

/**
 * What is wrong with bytes sharp could not read, in one line: libjpeg repeats its complaints over several
 * lines ("VipsJpeg: premature end of JPEG image\nVipsJpeg: Bogus Huffman table definition\n..."); the first
 * says what is wrong.
 */
export function decoderProblem(err: unknown, bytes: Uint8Array): string {
  const truncated = truncation(bytes);
  if (truncated !== null) return truncated;
  const message = err instanceof Error ? err.message : String(err);
  const first = message.split('\n')[0].trim();
  if (/unsupported image format/i.test(first)) return `not ${EXPECTED_FORMATS} (sharp: ${first})`;
  if (/premature end|truncated|read error|corrupt/i.test(first))
    return `corrupt or truncated image data (sharp: ${first})`;
  return `cannot decode the image (sharp: ${first})`;
}

/** Runs a sharp call, again (up to twice) when it fails without a reason, so the reason can be reported. */
export async function withReason<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (attempt >= 2 || !isUninformative(err)) throw err;
    }
  }
}

/** Throws the first bad file's line, saying how many more there are and how to leave them out. */
export function refuseBadImages(dir: string, bad: BadImage[]): void {
  if (bad.length === 0) return;
  const more = bad.length > 1 ? `; and ${bad.length - 1} more bad image files` : '';
  throw new DataFileError(
    join(dir, bad[0].file),
    `${bad[0].problem}${more}; --skip-bad-images (skipBadImages) leaves bad files out`,
  );
}

/**
 * One line for a report: how many files were skipped and the first `shown` of them with their problems.
 * `total`: the count when `skipped` holds only the first ones (a report that stores ten).
 */
export function describeSkipped(skipped: BadImage[], shown = 10, total = skipped.length): string {
  if (total === 0) return 'no image files skipped';
  const list = skipped
    .slice(0, shown)
    .map((b) => `${b.file} (${b.problem})`)
    .join('; ');
  const listed = Math.min(shown, skipped.length);
  const more = total > listed ? `; and ${total - listed} more` : '';
  return `${total} bad image file${total === 1 ? '' : 's'} skipped: ${list}${more}`;
}
