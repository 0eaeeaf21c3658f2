// IDX files (the MNIST family: MNIST, Fashion-MNIST, KMNIST, EMNIST), gzipped or raw.
//
// Format (big-endian): two zero bytes, a type byte (0x08 = unsigned byte, the only type image data sets use),
// a dimension count, one uint32 per dimension, then the data in row-major order. Images are N x H x W
// (magic 0x00000803), labels are N (magic 0x00000801). Everything is checked against the file length so a
// truncated download fails here, with the offset, instead of training on a short data set. A gzipped file is
// inflated only as far as its header declares (read-bytes.ts), so a wrong or hostile .gz cannot fill memory.
import { DataFileError } from './errors.js';
import { type LimitFromHeader, readMaybeGzip } from './read-bytes.js';

export const IDX_IMAGES_MAGIC = 0x00000803;
export const IDX_LABELS_MAGIC = 0x00000801;

const TYPE_NAMES: Record<number, string> = {
  8: 'unsigned byte',
  9: 'signed byte',
  11: 'int16',
  12: 'int32',
  13: 'float32',
  14: 'float64',
};

function hex32(value: number): string {
  return `0x${value.toString(16).padStart(8, '0')}`;
}

interface IdxHeader {
  dims: number[];
  headerBytes: number;
}

/**
 * The header of an IDX file of unsigned bytes with `expectedDims` dimensions, checked; undefined while `bytes`
 * (a prefix of the file) is too short to hold it. `what` names the data in messages.
 */
function readIdxHeader(
  bytes: Uint8Array,
  source: string,
  expectedDims: number,
  what: string,
): IdxHeader | undefined {
  if (bytes.length < 4) return undefined;
  const expectedMagic = 0x0800 | expectedDims;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const magic = view.getUint32(0);
  if (magic !== expectedMagic) {
    const type = TYPE_NAMES[bytes[2]];
    const found =
      bytes[0] === 0 && bytes[1] === 0 && type !== undefined
        ? `${hex32(magic)} (${type}, ${bytes[3]} dimensions)`
        : `${hex32(magic)}, which is not an IDX header`;
    throw new DataFileError(
      source,
      `expected IDX magic ${hex32(expectedMagic)} (${what}: unsigned bytes, ${expectedDims} dimensions) at byte offset 0, found ${found}`,
      0,
    );
  }
  const headerBytes = 4 + 4 * expectedDims;
  if (bytes.length < headerBytes) return undefined;
  const dims: number[] = [];
  for (let i = 0; i < expectedDims; i++) {
    const size = view.getUint32(4 + 4 * i);
    if (size === 0) {
      throw new DataFileError(
        source,
        `dimension ${i} at byte offset ${4 + 4 * i} is 0; the ${what} are empty`,
        4 + 4 * i,
      );
    }
    dims.push(size);
  }
  return { dims, headerBytes };
}

/** How long a gzipped IDX file may inflate: exactly what its header declares (see read-bytes.ts). */
function idxLimit(expectedDims: number, what: string): LimitFromHeader {
  return (head, source) => {
    const header = readIdxHeader(head, source, expectedDims, what);
    if (header === undefined) return undefined;
    const dataBytes = header.dims.reduce((a, b) => a * b, 1);
    return {
      maxBytes: header.headerBytes + dataBytes,
      reason: `the IDX header declares ${header.dims.join(' x ')} ${what} bytes after its ${header.headerBytes}-byte header`,
    };
  };
}

/** Parses an IDX file of unsigned bytes with exactly `expectedDims` dimensions; `what` names the data in messages. */
function parseUbyteIdx(
  bytes: Uint8Array,
  source: string,
  expectedDims: number,
  what: string,
): { dims: number[]; data: Uint8Array; dataOffset: number } {
  const headerBytes = 4 + 4 * expectedDims;
  if (bytes.length < 4) {
    throw new DataFileError(
      source,
      `expected a 4-byte IDX magic number, file has only ${bytes.length} bytes`,
      0,
    );
  }
  const header = readIdxHeader(bytes, source, expectedDims, what);
  if (header === undefined) {
    throw new DataFileError(
      source,
      `expected a ${headerBytes}-byte header (${expectedDims} dimension sizes from byte offset 4), file has only ${bytes.length} bytes`,
      bytes.length,
    );
  }
  const { dims } = header;
  const dataBytes = dims.reduce((a, b) => a * b, 1);
  const available = bytes.length - headerBytes;
  if (available < dataBytes) {
    throw new DataFileError(
      source,
      `expected ${dataBytes} bytes of ${what} data (${dims.join(' x ')}) from byte offset ${headerBytes}, ` +
        `file has ${bytes.length} bytes: truncated at byte offset ${bytes.length}`,
      bytes.length,
    );
  }
  if (available > dataBytes) {
    throw new DataFileError(
      source,
      `${available - dataBytes} unexpected bytes after the ${dims.join(' x ')} ${what} data, from byte offset ` +
        `${headerBytes + dataBytes} (file has ${bytes.length} bytes, the header describes ${headerBytes + dataBytes})`,
      headerBytes + dataBytes,
    );
  }
  return { dims, data: bytes.subarray(headerBytes, headerBytes + dataBytes), dataOffset: headerBytes };
}

export interface IdxImages {
  /** N x 1 x H x W, uint8 (a view into the file's bytes, no copy). */
  images: Uint8Array;
  shape: [number, number, number, number];
}

export function parseIdxImages(bytes: Uint8Array, source: string): IdxImages {
  const { dims, data } = parseUbyteIdx(bytes, source, 3, 'image');
  const [n, h, w] = dims as [number, number, number];
  return { images: data, shape: [n, 1, h, w] };
}

/** Labels as int32, each checked to lie in [0, classes). */
export function parseIdxLabels(bytes: Uint8Array, source: string, classes: number): Int32Array {
  if (!Number.isInteger(classes) || classes < 1) {
    throw new RangeError(`classes: expected a positive integer, got ${String(classes)}`);
  }
  const { data, dataOffset } = parseUbyteIdx(bytes, source, 1, 'label');
  const labels = new Int32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const label = data[i];
    if (label >= classes) {
      throw new DataFileError(
        source,
        `label ${label} of item ${i} at byte offset ${dataOffset + i} is outside [0, ${classes})`,
        dataOffset + i,
      );
    }
    labels[i] = label;
  }
  return labels;
}

export async function readIdxImages(path: string): Promise<IdxImages> {
  const { bytes, source } = await readMaybeGzip(path, idxLimit(3, 'image'));
  return parseIdxImages(bytes, source);
}

export async function readIdxLabels(path: string, classes: number): Promise<Int32Array> {
  if (!Number.isInteger(classes) || classes < 1) {
    throw new RangeError(`classes: expected a positive integer, got ${String(classes)}`);
  }
  const { bytes, source } = await readMaybeGzip(path, idxLimit(1, 'label'));
  return parseIdxLabels(bytes, source, classes);
}
