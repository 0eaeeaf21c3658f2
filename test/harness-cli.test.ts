// `eos compare` as a user runs it: flags, progress lines, Ctrl-C, and the same command again to continue.
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test from 'ava';
import { readSessions } from '../lib/harness/session-log.js';
import { readSafetensors } from '../lib/model/safetensors.js';
import { freshOutDir, removeTemporaryFolders, tinyCompareArgs, tinyDataset } from './harness-fixtures.js';

const run = promisify(execFile);
const eos = fileURLToPath(new URL('../lib/cli/eos.js', import.meta.url));

const compareArgs = (dataDir: string, out: string, epochs: number): string[] => [
  eos,
  ...tinyCompareArgs(dataDir, out, { epochs, backbones: 'ce', samplers: 'none,eos' }),
];

test.after.always(removeTemporaryFolders);

test('bad flags are refused, naming the flag', async (t) => {
  const err = await t.throwsAsync(run(process.execPath, [eos, 'compare', '--backbones', 'ce,bogus']));
  t.regex(
    (err as Error & { stderr: string }).stderr,
    /--backbones: unknown name bogus; choose from ce, reweight/,
  );
  const seeds = await t.throwsAsync(run(process.execPath, [eos, 'compare', '--seeds', '0']));
  t.regex((seeds as Error & { stderr: string }).stderr, /--seeds must be a decimal integer >= 1/);
});

test('Ctrl-C stops the comparison, says how to continue, and the same command finishes it', async (t) => {
  const dataDir = await tinyDataset();
  const out = freshOutDir();
  const args = compareArgs(dataDir, out, 40);
  const child = spawn(process.execPath, args);
  let stderr = '';
  let interrupted = false;
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    if (!interrupted && /ce-seed0 epoch 1\/40/.test(stderr)) {
      interrupted = true;
      child.kill('SIGINT');
    }
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  t.is(code, 130, stderr);
  t.regex(stderr, /run the same command again to continue/);
  t.regex(stderr, /partial reports: .*results\.md/);
  t.regex(readFileSync(join(out, 'results.md'), 'utf8'), /PARTIAL RESULTS: 0 of 3 units/);
  // --report-only looks at the stored units without continuing, with the stored settings (not --seeds 4).
  const look = await run(process.execPath, [...args, '--seeds', '4', '--report-only']);
  t.regex(
    look.stderr,
    /partial results: 0 of 3 units finished .* continues the comparison:\n {2}eos compare/,
  );
  t.notRegex(look.stderr, /training phase 1|resuming/);
  t.is(readSessions(out).length, 1);

  const { stdout, stderr: again } = await run(process.execPath, args);
  t.regex(again, /\[1\/3\] ce-seed0: resuming phase 1/);
  t.regex(stdout, /\| (\*\*)?ce \+ eos(\*\*)? \| (\*\*)?1\/1/);
  t.true(existsSync(join(out, 'results.html')));
  t.notRegex(readFileSync(join(out, 'results.md'), 'utf8'), /PARTIAL/);
});

/** Runs `eos` with `args` and sends `signal` once stderr matches `when`; the exit code (null: killed) and stderr. */
async function signalWhen(args: string[], when: RegExp, signal: NodeJS.Signals) {
  const child = spawn(process.execPath, args);
  let stderr = '';
  let sent = false;
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    if (!sent && when.test(stderr)) {
      sent = true;
      child.kill(signal);
    }
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code, stderr };
}

test("SIGTERM (a scheduler's time limit) stops like Ctrl-C, and a session killed without warning still counts its time", async (t) => {
  const dataDir = await tinyDataset();
  const out = freshOutDir();
  const args = compareArgs(dataDir, out, 40);
  const checkpoint = join(out, 'units', 'ce-seed0', 'checkpoints', 'phase1.safetensors');
  const trainState = () =>
    JSON.parse(readSafetensors(checkpoint).metadata['eos.train_state']!) as {
      epoch: number;
      seconds: number;
    };

  const terminated = await signalWhen(args, /ce-seed0 epoch 1\/40/, 'SIGTERM');
  t.is(terminated.code, 143, terminated.stderr);
  t.regex(terminated.stderr, /SIGTERM again to quit at once/);
  t.regex(terminated.stderr, /run the same command again to continue/);
  const first = trainState();
  t.true(first.seconds > 0);

  // SIGKILL runs no handler: what the session trained is known from the checkpoint of its last epoch alone.
  const killed = await signalWhen(args, /ce-seed0 epoch 2\/40/, 'SIGKILL');
  t.is(killed.code, null, killed.stderr);
  t.regex(killed.stderr, /ce-seed0: resuming phase 1/);
  const second = trainState();
  t.is(second.epoch, 2);
  t.true(second.seconds > first.seconds);

  await run(process.execPath, args);
  const stored = JSON.parse(readFileSync(join(out, 'units', 'ce-seed0', 'phase1.json'), 'utf8'));
  t.is(stored.history.length, 40);
  const lastSession = stored.history
    .slice(2)
    .reduce((sum: number, e: { seconds: number }) => sum + e.seconds, 0);
  t.true(
    stored.seconds.phase1 >= second.seconds + lastSession,
    `phase 1 took ${stored.seconds.phase1} s; the earlier sessions ${second.seconds} s, the last one's epochs ${lastSession} s`,
  );
});

test('a sampler undefined on the data is an outcome, not an error: the command exits 0 and says so', async (t) => {
  const dataDir = await tinyDataset();
  const out = freshOutDir();
  // k = 15: SMOTE needs 16 images of each over-sampled class; the rarest has fewer.
  const args = [...compareArgs(dataDir, out, 1), '--samplers', 'none,smote', '--k-neighbors', '15'];
  const first = await run(process.execPath, args);
  t.regex(
    first.stderr,
    /ce-seed0\+smote FAILED: kNeighbors: .*\(undefined on this data: recorded, not retried\)/,
  );
  t.regex(readFileSync(join(out, 'results.md'), 'utf8'), /\| ce \+ smote \| 0\/1 \(1 undefined\) \|/);
  // The same command again has nothing left to do.
  const again = await run(process.execPath, args);
  t.notRegex(again.stderr, /FAILED|training phase 1/);
});
