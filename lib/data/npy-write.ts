// Writes NPY files byte for byte as np.save does (format 1.0, or 2.0 when the header would not fit 1.0's
// 16-bit length): embeddings and labels are exchanged with numpy users in this format.
//
// The write is atomic: bytes go to a temporary name in the same folder, are flushed, then renamed over the
// target, so a crash leaves either the old file or the new one, never half of one.
import { endianness } from 'node:os';
import { writeFileAtomic } from '../io/atomic-write.js';

export type NpyWritable = Float32Array | Int32Array | Uint8Array;

function descrOf(data: NpyWritable): string {
  // Typed arrays hold host-order numbers; the descriptors below promise little-endian.
  if (data.BYTES_PER_ELEMENT > 1 && endianness() !== 'LE')
    throw new Error('writeNpy: big-endian hosts are not supported');
  if (data instanceof Float32Array) return '<f4';
  if (data instanceof Int32Array) return '<i4';
  if (data instanceof Uint8Array) return '|u1';
  throw new TypeError('data: expected a Float32Array, Int32Array or Uint8Array');
}

/**
 * The header bytes exactly as numpy 1.24's np.save writes them: the dict, 21 - digits(shape[0]) spare spaces
 * (numpy leaves room to grow the first axis in place), then spaces and a newline up to a multiple of 64
 * bytes (a whole extra 64 when already aligned, as numpy does). Version 1.0 unless the length needs 2.0.
 */
export function npyHeader(data: NpyWritable, shape: readonly number[]): Uint8Array {
  const descr = descrOf(data);
  if (!shape.every((s) => Number.isInteger(s) && s >= 0)) {
    throw new RangeError(`shape: expected non-negative integers, got [${shape.join(', ')}]`);
  }
  const elements = shape.reduce((a, b) => a * b, 1);
  if (elements !== data.length) {
    throw new RangeError(`shape [${shape.join(', ')}] holds ${elements} elements, data has ${data.length}`);
  }
  const tuple = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  const spare = shape.length > 0 ? ' '.repeat(Math.max(0, 21 - String(shape[0]).length)) : '';
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${tuple}, }${spare}`;
  for (const [major, lengthBytes] of [
    [1, 2],
    [2, 4],
  ] as const) {
    const prefix = 8 + lengthBytes;
    const padding = 64 - ((prefix + dict.length + 1) % 64);
    const headerLength = dict.length + padding + 1;
    if (major === 1 && headerLength > 0xffff) continue;
    const out = new Uint8Array(prefix + headerLength);
    out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
    const view = new DataView(out.buffer);
    if (major === 1) view.setUint16(8, headerLength, true);
    else view.setUint32(8, headerLength, true);
    out.set(new TextEncoder().encode(`${dict}${' '.repeat(padding)}\n`), prefix);
    return out;
  }
  throw new RangeError(`shape: ${shape.length} dimensions make a header too long for NPY`);
}

/** The whole file in memory (header + little-endian data). */
export function encodeNpy(data: NpyWritable, shape: readonly number[]): Uint8Array {
  const header = npyHeader(data, shape);
  const out = new Uint8Array(header.length + data.byteLength);
  out.set(header);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), header.length);
  return out;
}

/**
 * Writes `data` with `shape` to `path` atomically (temporary file in the same folder, fsync, rename; see
 * io/atomic-write.ts). Failures throw WriteFileError naming `path`. Async for its callers' sake; the write
 * itself is synchronous, so two writes of one target in this process never overlap.
 */
export async function writeNpy(path: string, data: NpyWritable, shape: readonly number[]): Promise<void> {
  const header = npyHeader(data, shape);
  writeFileAtomic(path, [header, data]);
}
