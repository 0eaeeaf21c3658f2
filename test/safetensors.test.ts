import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { readSafetensors, writeSafetensors } from '../lib/model/safetensors.js';
import { readStateDict } from '../lib/model/state-dict.js';

const dir = () => mkdtempSync(join(tmpdir(), 'eos-st-'));

test('tensors and metadata round-trip with dtype, shape and bytes intact', (t) => {
  const path = join(dir(), 'a.safetensors');
  const w = Float32Array.from({ length: 2 * 3 * 3 * 3 }, (_, i) => i * 0.5 - 3);
  writeSafetensors(
    path,
    {
      'conv1.weight': { dtype: 'F32', shape: [2, 3, 3, 3], data: w },
      'bn1.num_batches_tracked': { dtype: 'I64', shape: [], data: BigInt64Array.of(7n) },
      labels: { dtype: 'I32', shape: [3], data: Int32Array.of(1, -2, 3) },
    },
    { epoch: '4' },
  );
  const bytes = readFileSync(path);
  t.is((8 + Number(bytes.readBigUInt64LE(0))) % 8, 0, 'tensor data starts 8-byte aligned');
  const f = readSafetensors(path);
  t.deepEqual(f.metadata, { epoch: '4' });
  t.deepEqual([...f.tensors.keys()], ['conv1.weight', 'bn1.num_batches_tracked', 'labels']);
  t.deepEqual(f.tensors.get('conv1.weight')?.data, w);
  t.deepEqual(f.tensors.get('conv1.weight')?.shape, [2, 3, 3, 3]);
  t.deepEqual(f.tensors.get('bn1.num_batches_tracked')?.data, BigInt64Array.of(7n));
  t.deepEqual(f.tensors.get('labels')?.data, Int32Array.of(1, -2, 3));
});

test('a data length that disagrees with the shape is refused before writing', (t) => {
  const path = join(dir(), 'b.safetensors');
  t.throws(() => writeSafetensors(path, { x: { dtype: 'F32', shape: [4], data: new Float32Array(3) } }), {
    message: /tensor x: shape \[4\] of F32 needs 16 bytes, data has 12/,
  });
  t.deepEqual(readdirSync(join(path, '..')), []);
});

test('truncated and corrupt files fail with the file name and byte offset', (t) => {
  const d = dir();
  const path = join(d, 'c.safetensors');
  writeSafetensors(path, { x: { dtype: 'F32', shape: [100], data: new Float32Array(100) } });
  const good = readFileSync(path);
  const truncated = join(d, 'truncated.safetensors');
  writeFileSync(truncated, good.subarray(0, good.byteLength - 10));
  t.throws(() => readSafetensors(truncated), {
    message: /truncated\.safetensors: tensor x: data ends at \d+, past the end .*at byte offset \d+/,
  });
  const tiny = join(d, 'tiny.safetensors');
  writeFileSync(tiny, Buffer.from([1, 2, 3]));
  t.throws(() => readSafetensors(tiny), { message: /tiny\.safetensors: file is 3 bytes.*offset 0/ });
  const badJson = Buffer.from(good);
  badJson[9] = 0x7b; // '{' inside the JSON header
  const corrupt = join(d, 'corrupt.safetensors');
  writeFileSync(corrupt, badJson);
  t.throws(() => readSafetensors(corrupt), {
    message:
      /corrupt\.safetensors: header JSON is not valid \(Expected property name .*\) \(at byte offset 8\)$/,
  });
  const huge = Buffer.from(good);
  huge.writeBigUInt64LE(1n << 40n, 0);
  const hugePath = join(d, 'huge.safetensors');
  writeFileSync(hugePath, huge);
  t.throws(() => readSafetensors(hugePath), { message: /header length \d+ exceeds the file size/ });
});

test('a writer killed mid-write leaves the previous file intact and no partial file under the name', async (t) => {
  const d = dir();
  const path = join(d, 'ckpt.safetensors');
  writeSafetensors(path, { x: { dtype: 'F32', shape: [4], data: Float32Array.of(1, 2, 3, 4) } });
  const before = readFileSync(path);
  // A child process writes a 400 MB checkpoint over it and is killed while writing.
  const modulePath = new URL('../lib/model/safetensors.js', import.meta.url).href;
  const child = spawn(process.execPath, [
    '--input-type=module',
    '-e',
    `import { writeSafetensors } from '${modulePath}';
     process.stdout.write('go\\n');
     writeSafetensors(${JSON.stringify(path)}, { x: { dtype: 'F32', shape: [1e8], data: new Float32Array(1e8) } });`,
  ]);
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  await new Promise((r) => setTimeout(r, 150));
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  const after = readFileSync(path);
  // Either the kill came first (old file) or the write completed (new file): never anything in between.
  if (after.byteLength === before.byteLength) t.deepEqual(after, before);
  else t.is(readSafetensors(path).tensors.get('x')?.data.length, 1e8);
  t.true(readdirSync(d).every((f) => f === 'ckpt.safetensors' || f.endsWith('.tmp')));
});

test('a directory, a missing file, a header that is not an object and bad metadata name the file', (t) => {
  const d = dir();
  t.throws(() => readSafetensors(d), { message: `${d}: is a directory, expected a .safetensors file` });
  t.throws(() => readSafetensors(join(d, 'none.safetensors')), {
    message: `${join(d, 'none.safetensors')}: cannot read the model file (ENOENT: no such file or directory, open '${join(d, 'none.safetensors')}')`,
  });
  const withHeader = (name: string, json: string) => {
    const text = Buffer.from(json);
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(text.length));
    const path = join(d, name);
    writeFileSync(path, Buffer.concat([length, text]));
    return path;
  };
  const list = withHeader('list.safetensors', '[1, 2]');
  t.throws(() => readSafetensors(list), {
    message: `${list}: header JSON must be an object of tensor entries, found [1,2] (at byte offset 8)`,
  });
  const nul = withHeader('null.safetensors', 'null');
  t.throws(() => readSafetensors(nul), { message: /null\.safetensors: header JSON must be an object/ });
  const meta = withHeader('meta.safetensors', '{"__metadata__": {"epoch": 3}}');
  t.throws(() => readSafetensors(meta), {
    message: `${meta}: __metadata__ must be an object of strings (at byte offset 8)`,
  });
  const proto = withHeader(
    'proto.safetensors',
    '{"x": {"dtype": "toString", "shape": [], "data_offsets": [0, 0]}}',
  );
  t.throws(() => readSafetensors(proto), {
    message: `${proto}: tensor x: unsupported dtype "toString"; expected one of F32, F64, I32, I64, U8 (at byte offset 8)`,
  });
  const spec = withHeader('spec.safetensors', '{"__metadata__": {"eos.spec": "{depth: 8}"}}');
  t.throws(() => readStateDict(spec), {
    message: /^.*spec\.safetensors: metadata entry eos\.spec is not valid JSON \(Expected property name/,
  });
  t.throws(() => readStateDict(withHeader('empty.safetensors', '{}')), {
    message: /empty\.safetensors: missing tensor conv1\.weight; is this a CIFAR ResNet state dict\?/,
  });
});
