// safetensors files: an 8-byte little-endian header length, a JSON header naming each tensor's dtype, shape and
// byte range, then the raw little-endian tensor bytes. The format PyTorch users load with
// `safetensors.torch.load_file`, so checkpoints move between this library and PyTorch without conversion.
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../io/atomic-write.js';

export type Dtype = 'F32' | 'F64' | 'I32' | 'I64' | 'U8';
export type TensorData = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;

export interface Tensor {
  dtype: Dtype;
  shape: number[];
  data: TensorData;
}

const BYTES: Record<Dtype, number> = { F32: 4, F64: 8, I32: 4, I64: 8, U8: 1 };

function view(dtype: Dtype, buffer: ArrayBuffer, offset: number, count: number): TensorData {
  switch (dtype) {
    case 'F32':
      return new Float32Array(buffer, offset, count);
    case 'F64':
      return new Float64Array(buffer, offset, count);
    case 'I32':
      return new Int32Array(buffer, offset, count);
    case 'I64':
      return new BigInt64Array(buffer, offset, count);
    case 'U8':
      return new Uint8Array(buffer, offset, count);
  }
}

function elementCount(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Writes tensors (in the given order) and string metadata to `path`, atomically. */
export function writeSafetensors(
  path: string,
  tensors: Record<string, Tensor>,
  metadata: Record<string, string> = {},
): void {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  const chunks: ArrayBufferView[] = [];
  for (const [name, t] of Object.entries(tensors)) {
    const bytes = elementCount(t.shape) * BYTES[t.dtype];
    if (t.data.byteLength !== bytes) {
      throw new RangeError(
        `tensor ${name}: shape [${t.shape}] of ${t.dtype} needs ${bytes} bytes, data has ${t.data.byteLength}`,
      );
    }
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    chunks.push(t.data);
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8); // keep tensor data 8-byte aligned
  const headerBytes = Buffer.from(json, 'utf8');
  const length = new DataView(new ArrayBuffer(8));
  length.setBigUint64(0, BigInt(headerBytes.byteLength), true);
  writeFileAtomic(path, [length, headerBytes, ...chunks]);
}

export interface SafetensorsFile {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

/** The file's bytes; a directory, a missing file or an unreadable one is an error naming `path`. */
function readWhole(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EISDIR') throw new Error(`${path}: is a directory, expected a .safetensors file`);
    // Node's text: "ENOENT: no such file or directory, open '<path>'".
    throw new Error(`${path}: cannot read the model file (${e.message})`, { cause: err });
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Reads and validates a safetensors file; every problem names the file and the byte offset. */
export function readSafetensors(path: string): SafetensorsFile {
  const file = readWhole(path);
  const fail = (offset: number, what: string): never => {
    throw new Error(`${path}: ${what} (at byte offset ${offset})`);
  };
  if (file.byteLength < 8)
    fail(0, `file is ${file.byteLength} bytes, too short for the 8-byte header length`);
  const headerLength = Number(file.readBigUInt64LE(0));
  if (headerLength > file.byteLength - 8)
    fail(0, `header length ${headerLength} exceeds the file size ${file.byteLength}`);
  let header: unknown;
  try {
    header = JSON.parse(file.subarray(8, 8 + headerLength).toString('utf8'));
  } catch (err) {
    return fail(8, `header JSON is not valid (${(err as Error).message})`);
  }
  if (!isRecord(header)) {
    return fail(
      8,
      `header JSON must be an object of tensor entries, found ${JSON.stringify(header)?.slice(0, 40)}`,
    );
  }
  const dataStart = 8 + headerLength;
  const dataLength = file.byteLength - dataStart;
  // Copy the data section once into an aligned buffer so typed views need no alignment care.
  const data = new Uint8Array(dataLength);
  data.set(file.subarray(dataStart));
  const tensors = new Map<string, Tensor>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (!isRecord(entry) || !Object.values(entry).every((v) => typeof v === 'string')) {
        fail(8, '__metadata__ must be an object of strings');
      }
      metadata = entry as Record<string, string>;
      continue;
    }
    if (!isRecord(entry))
      return fail(8, `tensor ${name}: expected an object with dtype, shape, data_offsets`);
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e.dtype !== 'string' || !Object.hasOwn(BYTES, e.dtype)) {
      fail(
        8,
        `tensor ${name}: unsupported dtype ${JSON.stringify(e.dtype)}; expected one of ${Object.keys(BYTES).join(', ')}`,
      );
    }
    const dtype = e.dtype as Dtype;
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((s) => Number.isSafeInteger(s) && s >= 0)) {
      fail(8, `tensor ${name}: shape must be a list of non-negative integers`);
    }
    const offsets = e.data_offsets;
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)
    ) {
      fail(8, `tensor ${name}: data_offsets must be [begin, end], non-negative integers`);
    }
    const [begin, end] = offsets as [number, number];
    const count = elementCount(shape as number[]);
    if (end - begin !== count * BYTES[dtype]) {
      fail(
        dataStart + begin,
        `tensor ${name}: byte range [${begin}, ${end}) does not hold shape [${shape}] of ${dtype}`,
      );
    }
    if (end > dataLength)
      fail(
        dataStart + begin,
        `tensor ${name}: data ends at ${dataStart + end}, past the end of the file (${file.byteLength} bytes; truncated?)`,
      );
    // The format does not promise aligned tensors; copy a misaligned one so its typed view is valid.
    const aligned = begin % BYTES[dtype] === 0;
    const values = aligned
      ? view(dtype, data.buffer, begin, count)
      : view(dtype, data.slice(begin, end).buffer, 0, count);
    tensors.set(name, { dtype, shape: shape as number[], data: values });
  }
  return { tensors, metadata };
}

/**
 * A metadata entry that holds JSON (eos.spec, eos.normalization, eos.train_state), parsed; undefined when
 * absent. Bad JSON is an error naming the file and the entry, not a bare "Unexpected token".
 */
export function metadataJson(path: string, metadata: Record<string, string>, key: string): unknown {
  const text = metadata[key];
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${path}: metadata entry ${key} is not valid JSON (${(err as Error).message})`);
  }
}
