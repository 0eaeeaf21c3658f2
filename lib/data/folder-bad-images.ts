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
 * sharp's message in one line: libjpeg repeats its complaints over several lines ("VipsJpeg: premature end of
 * JPEG image\nVipsJpeg: Bogus Huffman table definition\n..."); the first says what is wrong.
 */
export function decoderProblem(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const first = message.split('\n')[0].trim();
  if (/unsupported image format/i.test(first)) return `not ${EXPECTED_FORMATS} (sharp: ${first})`;
  if (/premature end|truncated|read error|corrupt/i.test(first))
    return `corrupt or truncated image data (sharp: ${first})`;
  return `cannot decode the image (sharp: ${first})`;
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

/** One line for a report: how many files were skipped and the first ten of them with their problems. */
export function describeSkipped(skipped: BadImage[], shown = 10): string {
  if (skipped.length === 0) return 'no image files skipped';
  const list = skipped
    .slice(0, shown)
    .map((b) => `${b.file} (${b.problem})`)
    .join('; ');
  const more = skipped.length > shown ? `; and ${skipped.length - shown} more` : '';
  return `${skipped.length} bad image file${skipped.length === 1 ? '' : 's'} skipped: ${list}${more}`;
}
