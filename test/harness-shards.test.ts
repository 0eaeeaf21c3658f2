// `eos compare --shard`: shards of one comparison run at once into one folder, as on a cluster scheduler with
// a shared file system, and `--report-only` merges them.
import { execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test from 'ava';
import { readSessions } from '../lib/harness/session-log.js';
import { parseShard } from '../lib/harness/shard.js';
import { freshOutDir, removeTemporaryFolders, tinyCompareArgs, tinyDataset } from './harness-fixtures.js';

const run = promisify(execFile);
const eos = fileURLToPath(new URL('../lib/cli/eos.js', import.meta.url));
const root = fileURLToPath(new URL('../..', import.meta.url));

test.after.always(removeTemporaryFolders);

/** 2 backbones x 2 seeds (4 trainings; CE with none and eos, focal with eos): 10 units. */
const compareArgs = (dataDir: string, out: string, epochs = 1, seeds = 2): string[] => [
  eos,
  ...tinyCompareArgs(dataDir, out, {
    epochs,
    seeds,
    backbones: 'ce,focal',
    samplers: 'none,eos',
    more: ['--other-samplers', 'eos', '--max-test-per-class', '10'],
  }),
];

const stderrOf = (err: unknown) => (err as { stderr: string }).stderr;

/** The stored unit results of a comparison folder: units/<backbone>/<file> -> its JSON. */
function unitResults(out: string): Map<string, Record<string, unknown>> {
  const found = new Map<string, Record<string, unknown>>();
  for (const dir of readdirSync(join(out, 'units')).sort())
    for (const name of readdirSync(join(out, 'units', dir)).sort())
      if (/^phase(1|23-.*)\.json$/.test(name))
        found.set(`${dir}/${name}`, JSON.parse(readFileSync(join(out, 'units', dir, name), 'utf8')));
  return found;
}

/**
 * A unit result without what legitimately differs from run to run: `seconds` and each phase-1 epoch's
 * `seconds` and `imagesPerSecond` (timings of this machine at that moment, with other processes beside it)
 * and `finishedAt` (a clock reading). Everything else (metrics, losses, gaps, keys) must be the same bytes.
 */
function comparable({ seconds: _s, finishedAt: _f, ...rest }: Record<string, unknown>): string {
  const history = rest.history as Record<string, unknown>[] | undefined;
  return JSON.stringify({
    ...rest,
    ...(history && { history: history.map(({ seconds: _t, imagesPerSecond: _r, ...epoch }) => epoch) }),
  });
}

test('--shard I/N and --shard auto (Slurm, Kubernetes) parse; bad values are refused naming --shard', (t) => {
  t.deepEqual(parseShard('2/3', {}), { index: 2, count: 3 });
  for (const bad of ['3/3', '0/0', '-1/2', 'a/b', '1.5/3', '2', ''])
    t.throws(() => parseShard(bad, {}), { message: /^--shard/ }, bad);
  // Slurm task ids start at SLURM_ARRAY_TASK_MIN and go in steps of SLURM_ARRAY_TASK_STEP.
  const slurm = { SLURM_ARRAY_TASK_COUNT: '4' };
  t.deepEqual(parseShard('auto', { ...slurm, SLURM_ARRAY_TASK_ID: '3' }), { index: 3, count: 4 });
  t.deepEqual(parseShard('auto', { ...slurm, SLURM_ARRAY_TASK_ID: '4', SLURM_ARRAY_TASK_MIN: '1' }), {
    index: 3,
    count: 4,
  });
  t.deepEqual(
    parseShard('auto', {
      ...slurm,
      SLURM_ARRAY_TASK_ID: '6',
      SLURM_ARRAY_TASK_MIN: '0',
      SLURM_ARRAY_TASK_STEP: '2',
    }),
    { index: 3, count: 4 },
  );
  t.throws(() => parseShard('auto', { ...slurm, SLURM_ARRAY_TASK_ID: '4' }), {
    message: /--shard.*SLURM_ARRAY_TASK_ID=4.*SLURM_ARRAY_TASK_COUNT=4/,
  });
  t.throws(() => parseShard('auto', { SLURM_ARRAY_TASK_ID: '0' }), { message: /SLURM_ARRAY_TASK_COUNT/ });
  t.deepEqual(parseShard('auto', { JOB_COMPLETION_INDEX: '1', EOS_SHARD_COUNT: '3' }), {
    index: 1,
    count: 3,
  });
  t.deepEqual(parseShard('auto', { JOB_COMPLETION_INDEX: '1' }, '2'), { index: 1, count: 2 });
  t.throws(() => parseShard('auto', { JOB_COMPLETION_INDEX: '1' }), {
    message: /--shard auto.*--shard-count.*EOS_SHARD_COUNT/,
  });
  t.throws(() => parseShard('auto', {}), {
    message: /--shard auto.*SLURM_ARRAY_TASK_ID.*JOB_COMPLETION_INDEX/,
  });
});

test('a bad --shard fails before any work: nothing is written', async (t) => {
  const out = join(freshOutDir(), 'never');
  const dataDir = await tinyDataset();
  for (const [shard, message] of [
    [['--shard', '3/3'], /--shard: the shard index must be an integer 0 <= I < N = 3/],
    [['--shard', 'auto'], /--shard auto: no scheduler shard found/],
    [['--shard-count', '2'], /--shard-count goes with --shard auto only/],
  ] as const) {
    const err = await t.throwsAsync(
      run(process.execPath, [...compareArgs(dataDir, out), ...shard], { env: { PATH: process.env.PATH } }),
    );
    t.regex(stderrOf(err), message);
  }
  t.false(existsSync(out));
});

test('three shards at once into one folder: the same units as one process, all sessions listed', async (t) => {
  const dataDir = await tinyDataset();
  const single = freshOutDir();
  const shared = freshOutDir();
  const shards = ['0/3', '1/3', '2/3'];
  const [, ...shardRuns] = await Promise.all([
    run(process.execPath, compareArgs(dataDir, single)),
    ...shards.map((s) => run(process.execPath, [...compareArgs(dataDir, shared), '--shard', s])),
  ]);
  // Backbone i goes to shard i mod 3, its samplers with it: ce-seed0 and focal-seed1 on shard 0.
  t.regex(shardRuns[0]!.stderr, /shard 0\/3: 5 of 10 units \(2 phase-1 trainings\)/);
  t.regex(shardRuns[0]!.stderr, /focal-seed1: training phase 1/);
  t.notRegex(shardRuns[0]!.stderr, /ce-seed1|focal-seed0/);

  const merged = await run(process.execPath, [eos, 'compare', '--out', shared, '--report-only']);
  t.notRegex(merged.stderr, /partial/);
  const expected = unitResults(single);
  const got = unitResults(shared);
  t.is(expected.size, 10);
  t.deepEqual([...got.keys()], [...expected.keys()]);
  for (const [file, result] of expected) t.is(comparable(got.get(file)!), comparable(result), file);

  const sessions = readSessions(shared);
  t.deepEqual(sessions.map((s) => s.shard).sort(), shards);
  const md = readFileSync(join(shared, 'results.md'), 'utf8');
  for (const s of shards) t.regex(md, new RegExp(`Session \\d: shard ${s} on `));
  t.regex(md, /over 3 sessions/);
  t.notRegex(md, /PARTIAL/);
  t.regex(md, /\| (\*\*)?ce \+ eos(\*\*)? \| (\*\*)?2\/2/, 'the merged table has both seeds');
  // No temporary file is left anywhere in the store.
  const leftovers = readdirSync(shared, { recursive: true }).filter((f) => String(f).endsWith('.tmp'));
  t.deepEqual(leftovers, []);
});

test("a killed shard's rerun continues its own units only", async (t) => {
  const dataDir = await tinyDataset();
  const out = freshOutDir();
  const args = [...compareArgs(dataDir, out, 40, 1), '--shard', '1/2'];
  const child = spawn(process.execPath, args);
  let stderr = '';
  let killed = false;
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    if (!killed && /focal-seed0 epoch 2\/40/.test(stderr)) {
      killed = true;
      child.kill('SIGKILL'); // no warning, as a preempted node
    }
  });
  await new Promise((resolve) => child.on('close', resolve));
  t.true(killed, stderr);
  const again = await run(process.execPath, args);
  t.regex(again.stderr, /shard 1\/2: 2 of 5 units/);
  t.regex(again.stderr, /focal-seed0: resuming phase 1/);
  t.notRegex(again.stderr, /ce-seed0/);
  t.true(existsSync(join(out, 'units', 'focal-seed0', 'phase23-eos.json')));
  t.false(existsSync(join(out, 'units', 'ce-seed0')), "shard 0's units are not run");
  t.regex(again.stderr, /merge with: eos compare --out .* --report-only/);
  t.is(readSessions(out).length, 2);
});

test('a unit claimed by two shards by mistake ends with one whole result', async (t) => {
  const dataDir = await tinyDataset();
  const out = freshOutDir();
  const args = [...compareArgs(dataDir, out, 1, 1), '--backbones', 'ce', '--shard', '0/1'];
  await Promise.all([run(process.execPath, args), run(process.execPath, args)]);
  const results = unitResults(out);
  t.deepEqual(
    [...results.keys()],
    ['ce-seed0/phase1.json', 'ce-seed0/phase23-eos.json', 'ce-seed0/phase23-none.json'],
  );
  const leftovers = readdirSync(out, { recursive: true }).filter((f) => String(f).endsWith('.tmp'));
  t.deepEqual(leftovers, []);
  const merged = await run(process.execPath, [eos, 'compare', '--out', out, '--report-only']);
  t.notRegex(merged.stderr, /partial/);
});

/** The shard plans a command prints with --dry-run: the unit ids, one a line. */
async function dryRun(command: string[], env: Record<string, string>, out: string): Promise<string[]> {
  const { stdout } = await run(process.execPath, [eos, ...command, '--out', out, '--dry-run'], {
    env: { PATH: process.env.PATH, ...env },
  });
  return stdout.split('\n').filter((l) => l.length > 0);
}

/** Checks the shards' units are the whole plan, each once. */
async function checkCover(
  t: import('ava').ExecutionContext,
  command: string[],
  shards: Record<string, string>[],
) {
  const out = freshOutDir();
  const whole = await dryRun(
    command.filter((a, i) => a !== 'auto' && command[i + 1] !== 'auto'),
    {},
    out,
  );
  t.true(whole.includes('ce-seed2+eos') && whole.includes('ldam-drw-seed2+eos'), 'the full table');
  const parts = await Promise.all(shards.map((env) => dryRun(command, env, out)));
  for (const p of parts) t.true(p.length > 0);
  const union = parts.flat();
  t.is(new Set(union).size, union.length, 'no unit in two shards');
  t.deepEqual([...union].sort(), [...whole].sort());
  t.deepEqual(readdirSync(out), [], 'a dry run writes nothing');
}

test('the Slurm array script runs the full table: its shards cover the plan once', async (t) => {
  const script = readFileSync(join(root, 'scripts/cluster/eos-compare.sbatch'), 'utf8');
  const [, first, last] = /^#SBATCH --array=(\d+)-(\d+)$/m.exec(script)!;
  const line = /^srun eos (compare .*)$/m.exec(script)![1]!;
  const command = line.split(/\s+/);
  const count = Number(last) - Number(first) + 1;
  const shards = Array.from({ length: count }, (_, i) => ({
    SLURM_ARRAY_TASK_ID: String(Number(first) + i),
    SLURM_ARRAY_TASK_MIN: first!,
    SLURM_ARRAY_TASK_COUNT: String(count),
  }));
  await checkCover(t, command, shards);
});

test('the Kubernetes Indexed Job runs the full table: its shards cover the plan once', async (t) => {
  const manifest = readFileSync(join(root, 'scripts/cluster/eos-compare-job.yaml'), 'utf8');
  const completions = Number(/^\s*completions: (\d+)$/m.exec(manifest)![1]);
  const count = /name: EOS_SHARD_COUNT\n\s*value: "(\d+)"/.exec(manifest)![1]!;
  t.is(Number(count), completions, 'EOS_SHARD_COUNT is the completions');
  t.deepEqual(JSON.parse(/^\s*command: (\[.*\])$/m.exec(manifest)![1]!), ['eos']);
  // The container's args, a YAML block list (numbers quoted: Kubernetes wants strings).
  const block = /^\s*args:\n((?:\s+- .*\n)+)/m.exec(manifest)![1]!;
  const command = [...block.matchAll(/- (.*)/g)].map((m) => m[1]!.trim().replace(/^"(.*)"$/, '$1'));
  const shards = Array.from({ length: completions }, (_, i) => ({
    JOB_COMPLETION_INDEX: String(i),
    EOS_SHARD_COUNT: count,
  }));
  await checkCover(t, command, shards);
});
