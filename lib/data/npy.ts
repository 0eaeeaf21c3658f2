// NPY files (numpy's np.save format, versions 1.0, 2.0 and 3.0): images, labels and embedding matrices.
//
// Layout: "\x93NUMPY", major and minor version bytes, the header length (uint16 LE in 1.0, uint32 LE in 2.0
// and 3.0), then a Python dict literal such as {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
// (latin-1 in 1.0/2.0, UTF-8 in 3.0), padded with spaces and a newline; the raw array data follow.
// Only C-order (row-major) arrays of plain little-endian numbers are read; anything else fails with a
// message saying what to change on the numpy side.
import { endianness } from 'node:os';
import { DataFileError } from './errors.js';
import { type InflateLimit, readMaybeGzip } from './read-bytes.js';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

const DTYPES = {
  u1: { dtype: 'uint8', size: 1 },
  i1: { dtype: 'int8', size: 1 },
  i4: { dtype: 'int32', size: 4 },
  i8: { dtype: 'int64', size: 8 },
  f4: { dtype: 'float32', size: 4 },
  f8: { dtype: 'float64', size: 8 },
} as const;

export type NpyDtype = (typeof DTYPES)[keyof typeof DTYPES]['dtype'];
export type NpyData = Uint8Array | Int8Array | Int32Array | BigInt64Array | Float32Array | Float64Array;

export interface NpyArray {
  dtype: NpyDtype;
  shape: number[];
  data: NpyData;
  /** Byte offset of the data in the file (for messages about individual elements). */
  dataOffset: number;
  /** How the file is named in messages. */
  source: string;
}

export interface NpyHeader {
  dtype: NpyDtype;
  itemSize: number;
  shape: number[];
  dataOffset: number;
}

/**
 * numpy itself refuses headers over 10000 bytes unless told otherwise; np.save never writes one near this.
 * The bound keeps a corrupt length field from making a gzipped file inflate without limit (read-bytes.ts).
 */
const MAX_HEADER_LENGTH = 1 << 20;

/**
 * The header, checked, from a prefix of the file; undefined while `bytes` is too short to hold all of it.
 * (The file length is checked against the data size by parseNpyHeader, once the whole file is there.)
 */
function readNpyHeader(bytes: Uint8Array, source: string): NpyHeader | undefined {
  if (bytes.length < 8) {
    // Enough to refuse a wrong magic early; the whole-file check reports a file shorter than that.
    if (MAGIC.slice(0, bytes.length).some((b, i) => bytes[i] !== b)) throw notNpy(source);
    return undefined;
  }
  if (MAGIC.some((b, i) => bytes[i] !== b)) throw notNpy(source);
  const major = bytes[6];
  const minor = bytes[7];
  if (![1, 2, 3].includes(major) || minor !== 0) {
    throw new DataFileError(
      source,
      `NPY format version ${major}.${minor} at byte offset 6 is not 1.0, 2.0 or 3.0`,
      6,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const lengthBytes = major === 1 ? 2 : 4;
  const headerStart = 8 + lengthBytes;
  if (bytes.length < headerStart) return undefined;
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  if (headerLength > MAX_HEADER_LENGTH) {
    throw new DataFileError(
      source,
      `header length ${headerLength} at byte offset 8 is more than any array header needs ` +
        `(at most ${MAX_HEADER_LENGTH} bytes are read); the file is corrupt`,
      8,
    );
  }
  const dataOffset = headerStart + headerLength;
  if (bytes.length < dataOffset) return undefined;
  const text = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(
    bytes.subarray(headerStart, dataOffset),
  );
  const bad = (what: string): DataFileError =>
    new DataFileError(
      source,
      `header at byte offset ${headerStart}: ${what} (header: ${text.trim()})`,
      headerStart,
    );

  if (!text.trimStart().startsWith('{')) throw bad('expected a Python dict literal');
  const descr = /['"]descr['"]\s*:\s*(['"])([^'"]*)\1/.exec(text)?.[2];
  if (descr === undefined) {
    throw bad(
      /['"]descr['"]\s*:\s*\[/.test(text) ? 'structured dtypes are not supported' : "no 'descr' entry",
    );
  }
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(text)?.[1];
  if (fortran === undefined) throw bad("no 'fortran_order' entry");
  if (fortran === 'True') {
    throw bad(
      'fortran_order is True; only C-order arrays are read: save np.ascontiguousarray(array) instead',
    );
  }
  const shapeText = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (shapeText === undefined) throw bad("no 'shape' tuple");
  const parts = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (!parts.every((s) => /^\d+L?$/.test(s)))
    throw bad(`shape (${shapeText}) is not a tuple of non-negative integers`);
  const shape = parts.map((s) => Number.parseInt(s, 10));

  const order = descr[0];
  const kind = descr.slice(1);
  const known = Object.hasOwn(DTYPES, kind) ? DTYPES[kind as keyof typeof DTYPES] : undefined;
  if (!'<>|='.includes(order) || known === undefined) {
    throw bad(
      `dtype '${descr}' is not supported; expected one of uint8, int8, int32, int64, float32, float64`,
    );
  }
  if (order === '>' && known.size > 1) {
    throw bad(`dtype '${descr}' is big-endian; save array.astype('<${kind}') instead`);
  }
  return { dtype: known.dtype, itemSize: known.size, shape, dataOffset };
}

function notNpy(source: string): DataFileError {
  return new DataFileError(
    source,
    'expected the NPY magic "\\x93NUMPY" at byte offset 0; this is not an .npy file',
    0,
  );
}

/** Bytes of array data the header describes. */
function dataBytesOf(header: NpyHeader): number {
  return header.shape.reduce((a, b) => a * b, 1) * header.itemSize;
}

/** How long a gzipped NPY file may inflate: the header plus the data it describes (see read-bytes.ts). */
function npyLimit(head: Uint8Array, source: string): InflateLimit | undefined {
  const header = readNpyHeader(head, source);
  if (header === undefined) return undefined;
  return {
    maxBytes: header.dataOffset + dataBytesOf(header),
    reason: `the NPY header declares ${header.dtype} data of shape (${header.shape.join(', ')}) after its ${header.dataOffset}-byte header`,
  };
}

/** Parses and checks the header, and the file length against the data size the header describes. */
export function parseNpyHeader(bytes: Uint8Array, source: string): NpyHeader {
  if (bytes.length < 10) throw notNpy(source);
  const header = readNpyHeader(bytes, source);
  if (header === undefined) {
    const lengthBytes = bytes[6] === 1 ? 2 : 4;
    if (bytes.length < 8 + lengthBytes) {
      throw new DataFileError(
        source,
        `file ends at byte offset ${bytes.length} inside the header length field`,
        bytes.length,
      );
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    const headerLength = lengthBytes === 2 ? view.getUint16(8, true) : view.getUint32(8, true);
    throw new DataFileError(
      source,
      `expected a ${headerLength}-byte header from byte offset ${8 + lengthBytes}, file has ${bytes.length} bytes: truncated at byte offset ${bytes.length}`,
      bytes.length,
    );
  }
  const { dtype, shape, dataOffset } = header;
  const dataBytes = dataBytesOf(header);
  if (bytes.length < dataOffset + dataBytes) {
    throw new DataFileError(
      source,
      `expected ${dataBytes} bytes of ${dtype} data (shape (${shape.join(', ')})) from byte offset ${dataOffset}, ` +
        `file has ${bytes.length} bytes: truncated at byte offset ${bytes.length}`,
      bytes.length,
    );
  }
  if (bytes.length > dataOffset + dataBytes) {
    throw new DataFileError(
      source,
      `${bytes.length - dataOffset - dataBytes} unexpected bytes after the data, from byte offset ${dataOffset + dataBytes} ` +
        `(the header describes ${dataOffset + dataBytes} bytes)`,
      dataOffset + dataBytes,
    );
  }
  return header;
}

export function parseNpy(bytes: Uint8Array, source: string): NpyArray {
  const header = parseNpyHeader(bytes, source);
  const { dtype, itemSize, shape, dataOffset } = header;
  const count = shape.reduce((a, b) => a * b, 1);
  if (itemSize > 1 && endianness() !== 'LE') {
    throw new DataFileError(source, 'multi-byte NPY data are read only on little-endian machines');
  }
  // slice() copies into a fresh buffer: the data start need not be aligned to the element size.
  const raw =
    itemSize === 1
      ? bytes.subarray(dataOffset, dataOffset + count)
      : bytes.slice(dataOffset, dataOffset + count * itemSize);
  const buffer = raw.buffer;
  const data: NpyData =
    dtype === 'uint8'
      ? raw
      : dtype === 'int8'
        ? new Int8Array(raw.buffer, raw.byteOffset, count)
        : dtype === 'int32'
          ? new Int32Array(buffer, 0, count)
          : dtype === 'int64'
            ? new BigInt64Array(buffer, 0, count)
            : dtype === 'float32'
              ? new Float32Array(buffer, 0, count)
              : new Float64Array(buffer, 0, count);
  return { dtype, shape, data, dataOffset, source };
}

export async function readNpy(path: string): Promise<NpyArray> {
  const { bytes, source } = await readMaybeGzip(path, npyLimit);
  return parseNpy(bytes, source);
}

export type NpyLayout = 'NCHW' | 'NHWC';

export interface NpyImages {
  /** N x C x H x W uint8 (converted from NHWC when the file is NHWC). */
  images: Uint8Array;
  shape: [number, number, number, number];
  /** The layout the file had (N x H x W files count as NCHW with C = 1). */
  layout: NpyLayout;
}

/**
 * Why a 4-D image shape has no single channel axis, and how to save the file so it has one. (There is no
 * command-line option for the layout: the file itself must say it; library callers may pass `layout`.)
 */
function layoutProblem(shape: number[]): string {
  const isChannels = (s: number) => s === 1 || s === 3;
  const text = (dims: number[]) => `(${dims.join(', ')})`;
  if (!isChannels(shape[1])) {
    return (
      `images of shape ${text(shape)} have no channel axis: dimension 1 (NCHW) or dimension 3 (NHWC) must be ` +
      `the channel count, 1 (grey) or 3 (RGB)`
    );
  }
  // Dimensions 1 and 3 are both 1 or 3. Read as NHWC (n, H, W, C) = (n, a, b, c), the same images as NCHW are
  // (n, c, a, b); read as NCHW (n, C, H, W), as NHWC they are (n, b, c, a). Either is unambiguous when b is
  // not 1 or 3.
  const [n, a, b, c] = shape;
  const how = isChannels(b)
    ? 'with every dimension after N 1 or 3 no order of the axes tells; pass layout to the library reader'
    : `if they are NHWC, save np.transpose(images, (0, 3, 1, 2)), shape ${text([n, c, a, b])}; ` +
      `if NCHW, save np.transpose(images, (0, 2, 3, 1)), shape ${text([n, b, c, a])}`;
  return (
    `cannot tell whether images of shape ${text(shape)} are NCHW or NHWC: dimensions 1 and 3 are both a ` +
    `possible channel count (1 or 3), and the layout is read from the shape; ${how}`
  );
}

/**
 * Interprets an array as uint8 images. 3-D (N, H, W) is one channel. 4-D is NCHW or NHWC: `layout` when
 * given, else inferred when exactly one of dimensions 1 and 3 is a plausible channel count (1 or 3).
 */
export function npyToImages(array: NpyArray, layout?: NpyLayout): NpyImages {
  const { shape, source } = array;
  if (array.dtype !== 'uint8') {
    throw new DataFileError(
      source,
      `images must be uint8, found ${array.dtype}` +
        (array.dtype.startsWith('float')
          ? ' (float NPY arrays are read as embedding matrices, not images)'
          : ''),
    );
  }
  const data = array.data as Uint8Array;
  if (shape.length === 3) {
    const [n, h, w] = shape;
    if (n * h * w === 0) throw new DataFileError(source, `image array shape (${shape.join(', ')}) is empty`);
    return { images: data, shape: [n, 1, h, w], layout: 'NCHW' };
  }
  if (shape.length !== 4) {
    throw new DataFileError(
      source,
      `images: expected a 3-D (N, H, W) or 4-D array, found shape (${shape.join(', ')})`,
    );
  }
  if (shape.some((s) => s === 0))
    throw new DataFileError(source, `image array shape (${shape.join(', ')}) is empty`);
  const isChannels = (s: number) => s === 1 || s === 3;
  let chosen = layout;
  if (chosen === undefined) {
    if (isChannels(shape[1]) && !isChannels(shape[3])) chosen = 'NCHW';
    else if (isChannels(shape[3]) && !isChannels(shape[1])) chosen = 'NHWC';
    else throw new DataFileError(source, layoutProblem(shape));
  }
  if (chosen === 'NCHW') {
    const [n, c, h, w] = shape;
    return { images: data, shape: [n, c, h, w], layout: 'NCHW' };
  }
  const [n, h, w, c] = shape;
  const images = new Uint8Array(data.length);
  const plane = h * w;
  for (let i = 0; i < n; i++) {
    const base = i * plane * c;
    for (let p = 0; p < plane; p++) {
      for (let ch = 0; ch < c; ch++) images[base + ch * plane + p] = data[base + p * c + ch];
    }
  }
  return { images, shape: [n, c, h, w], layout: 'NHWC' };
}

/** Interprets a 1-D integer array as labels; each must lie in [0, classes) (or be >= 0 when classes is omitted). */
export function npyToLabels(array: NpyArray, classes?: number): Int32Array {
  const { shape, source, dtype, data, dataOffset } = array;
  if (shape.length !== 1)
    throw new DataFileError(source, `labels: expected a 1-D array, found shape (${shape.join(', ')})`);
  if (dtype.startsWith('float')) {
    throw new DataFileError(source, `labels must be integers (uint8, int8, int32, int64), found ${dtype}`);
  }
  const limit = classes ?? 2 ** 31;
  const itemSize = data.BYTES_PER_ELEMENT;
  const labels = new Int32Array(shape[0]);
  for (let i = 0; i < labels.length; i++) {
    const value = Number(data[i]);
    if (!(value >= 0 && value < limit)) {
      throw new DataFileError(
        source,
        `label ${String(data[i])} of item ${i} at byte offset ${dataOffset + i * itemSize} is outside ` +
          (classes === undefined ? 'the non-negative int32 range' : `[0, ${classes})`),
        dataOffset + i * itemSize,
      );
    }
    labels[i] = value;
  }
  return labels;
}

export interface NpyMatrix {
  /** rows x cols float32, row-major. */
  data: Float32Array;
  rows: number;
  cols: number;
}

/** Interprets a 2-D float array as a float32 matrix (an N x d embedding table); float64 is converted. */
export function npyToMatrix(array: NpyArray): NpyMatrix {
  const { shape, source, dtype, data } = array;
  if (shape.length !== 2)
    throw new DataFileError(source, `expected a 2-D (N, d) matrix, found shape (${shape.join(', ')})`);
  if (dtype !== 'float32' && dtype !== 'float64') {
    throw new DataFileError(source, `expected a float32 or float64 matrix, found ${dtype}`);
  }
  const values = dtype === 'float32' ? (data as Float32Array) : Float32Array.from(data as Float64Array);
  return { data: values, rows: shape[0], cols: shape[1] };
}

export async function readNpyImages(path: string, layout?: NpyLayout): Promise<NpyImages> {
  return npyToImages(await readNpy(path), layout);
}

export async function readNpyLabels(path: string, classes?: number): Promise<Int32Array> {
  return npyToLabels(await readNpy(path), classes);
}

export async function readNpyMatrix(path: string): Promise<NpyMatrix> {
  return npyToMatrix(await readNpy(path));
}
