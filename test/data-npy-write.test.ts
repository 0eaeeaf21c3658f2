// Atomic NPY writes (eos embed -o, eos resample -o): errors name the user's path and say what is wrong, a
// failed write leaves no temporary file, and temporaries of writes that were killed are removed next time.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { readNpyLabels } from '../lib/data/npy.js';
import { writeNpy } from '../lib/data/npy-write.js';
import { WriteFileError, writeFileAtomic } from '../lib/io/atomic-write.js';
import { checkOutputFile } from '../lib/io/output-dir.js';

const root = mkdtempSync(join(tmpdir(), 'eos-npy-write-'));
test.after.always(() => rmSync(root, { recursive: true, force: true }));
let folders = 0;
const folder = () => {
  const dir = join(root, String(folders++));
  mkdirSync(dir);
  return dir;
};

const labels = Int32Array.from([3, 1, 2]);

test('a missing folder, a file in the path and a directory as the output are named as such', async (t) => {
  const dir = folder();
  const missing = join(dir, 'nope', 'x.npy');
  const err = await t.throwsAsync(writeNpy(missing, labels, [3]), { instanceOf: WriteFileError });
  t.is(err.message, `${missing}: cannot write the file: the folder ${join(dir, 'nope')} does not exist`);
  t.is(err.path, missing);
  t.is(err.code, 'ENOENT');

  writeFileSync(join(dir, 'plain'), 'x');
  const underFile = join(dir, 'plain', 'x.npy');
  await t.throwsAsync(writeNpy(underFile, labels, [3]), {
    message: `${underFile}: cannot write the file: ${join(dir, 'plain')} is not a folder (a part of the path is a file)`,
  });

  mkdirSync(join(dir, 'out.npy'));
  await t.throwsAsync(writeNpy(join(dir, 'out.npy'), labels, [3]), {
    message: `${join(dir, 'out.npy')}: cannot write the file: it is a directory, expected a file name`,
  });
  t.deepEqual(readdirSync(dir).sort(), ['out.npy', 'plain']);
  t.deepEqual(readdirSync(join(dir, 'out.npy')), []);
});

test('checkOutputFile refuses the same outputs before anything is written, and accepts a writable one', (t) => {
  const dir = folder();
  writeFileSync(join(dir, 'plain'), 'x');
  mkdirSync(join(dir, 'out.npy'));
  for (const [path, detail] of [
    [join(dir, 'nope', 'x.npy'), `the directory ${join(dir, 'nope')} does not exist`],
    [join(dir, 'plain', 'x.npy'), 'a part of the path is a file, not a directory'],
    [join(dir, 'out.npy'), 'is a directory, expected a file name'],
    ['/proc/x.npy', '/proc is on the proc pseudo file system; choose a real directory'],
  ]) {
    t.throws(() => checkOutputFile(path, '-o'), { message: `-o ${path}: ${detail}` });
  }
  checkOutputFile(join(dir, 'new.npy'), '-o');
  checkOutputFile(join(dir, 'plain'), '-o');
  t.deepEqual(readdirSync(dir).sort(), ['out.npy', 'plain']);
});

// Root writes whatever the mode bits say, so as root the write runs in a child process of user nobody.
test('a folder without write permission is named, not the temporary file', (t) => {
  const dir = folder();
  const locked = join(dir, 'locked');
  mkdirSync(locked);
  chmodSync(locked, 0o500);
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    chmodSync(root, 0o755);
    chmodSync(dir, 0o755);
  }
  try {
    const target = join(locked, 'x.npy');
    const writer = new URL('../lib/data/npy-write.js', import.meta.url).href;
    const checker = new URL('../lib/io/output-dir.js', import.meta.url).href;
    const child = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { writeNpy } from '${writer}';
         import { checkOutputFile } from '${checker}';
         try { checkOutputFile(${JSON.stringify(target)}, '-o'); } catch (e) { console.log(e.message); }
         try { await writeNpy(${JSON.stringify(target)}, Int32Array.of(1), [1]); } catch (e) { console.log(e.message); }`,
      ],
      { encoding: 'utf8', ...(asRoot ? { uid: 65534, gid: 65534 } : {}) },
    );
    t.is(child.status, 0, child.stderr);
    t.deepEqual(child.stdout.trim().split('\n'), [
      `-o ${target}: permission denied (a directory on the path cannot be searched)`,
      `${target}: cannot write the file: permission denied (no write access to ${locked} or to the file)`,
    ]);
    t.deepEqual(readdirSync(locked), []);
  } finally {
    chmodSync(locked, 0o700);
  }
});

test('a write that fails part way removes its temporary file and keeps the previous file', async (t) => {
  const dir = folder();
  const path = join(dir, 'x.npy');
  await writeNpy(path, labels, [3]);
  // A chunk whose buffer is detached fails after the temporary file was opened.
  const detached = new Uint8Array(16);
  structuredClone(detached.buffer, { transfer: [detached.buffer] });
  t.throws(() => writeFileAtomic(path, [Uint8Array.of(1, 2), detached]), {
    instanceOf: WriteFileError,
    message: new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: cannot write the file: `),
  });
  t.deepEqual(readdirSync(dir), ['x.npy']);
  t.deepEqual(Array.from(await readNpyLabels(path)), [3, 1, 2]);
});

/** Runs a child that starts an atomic write of `path` and is killed (SIGKILL) inside it; returns its pid. */
function killedWriter(path: string): number {
  const modulePath = new URL('../lib/io/atomic-write.js', import.meta.url).href;
  const child = spawnSync(process.execPath, [
    '--input-type=module',
    '-e',
    `import { writeFileAtomic } from '${modulePath}';
     const chunk = { byteOffset: 0, byteLength: 1, get buffer() { process.kill(process.pid, 'SIGKILL'); } };
     writeFileAtomic(${JSON.stringify(path)}, [Uint8Array.of(1), chunk]);`,
  ]);
  if (child.signal !== 'SIGKILL') throw new Error(`the writer was not killed: ${child.stderr}`);
  return child.pid as number;
}

test('temporary files of killed writes of the same target are removed when it is next written', async (t) => {
  const dir = folder();
  const path = join(dir, 'emb.npy');
  const pid = killedWriter(path);
  const leftover = readdirSync(dir);
  t.is(leftover.length, 1);
  const match = /^\.emb\.npy\.(\d+)\.([0-9a-f]{8})\.[0-9a-f]+\.tmp$/.exec(leftover[0]);
  t.truthy(match, leftover[0]);
  t.is(Number(match?.[1]), pid);
  const host = match?.[2];
  // Kept: a live process's (the test runner's parent), another machine's (its pid means nothing here), and
  // another target's. Removed: the killed one, and one named by the previous version (no host part).
  const keep = [
    `.emb.npy.${process.ppid}.${host}.00ff.tmp`,
    `.emb.npy.${pid}.${host === 'deadbeef' ? 'feedface' : 'deadbeef'}.00ff.tmp`,
    `.other.npy.${pid}.${host}.00ff.tmp`,
    'emb.npy.tmp',
  ];
  const legacy = `.emb.npy.${pid}.1700000000000.tmp`;
  for (const name of [...keep, legacy]) writeFileSync(join(dir, name), 'partial');
  await writeNpy(path, labels, [3]);
  t.deepEqual(readdirSync(dir).sort(), ['emb.npy', ...keep].sort());
  t.deepEqual(Array.from(await readNpyLabels(path)), [3, 1, 2]);
});
