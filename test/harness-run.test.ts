// The comparison harness end to end on a tiny data set: each backbone is trained once, an interrupted
// comparison continues without redoing finished units and ends with the results of an uninterrupted one.
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import {
  ComparisonAborted,
  type ComparisonEvent,
  type ComparisonSettings,
  makePlan,
  ResultsStore,
  reportComparison,
  runComparison,
  SettingsMismatchError,
} from '../lib/harness/index.js';
import { readSessions } from '../lib/harness/session-log.js';
import { readSafetensors } from '../lib/model/safetensors.js';
import { trainBackbone } from '../lib/pipeline/train-backbone.js';
import {
  assertWellFormedXml,
  freshOutDir,
  removeTemporaryFolders,
  tinyDataset,
  tinySettings,
} from './harness-fixtures.js';

const machine = { os: 'test', cpu: 'test', cpus: 1, memoryGiB: 1, node: process.version, addon: 'test' };

/** Runs a comparison, counting the phase-1 trainings and collecting the events. */
async function run(
  settings: ComparisonSettings,
  options: { signal?: AbortSignal; onEvent?: (e: ComparisonEvent) => void } = {},
) {
  const trained: string[] = [];
  const events: ComparisonEvent[] = [];
  const promise = runComparison(settings, {
    command: 'eos compare (test)',
    machine,
    signal: options.signal,
    onEvent: (e) => {
      events.push(e);
      options.onEvent?.(e);
    },
    train: (config, data, model, o) => {
      trained.push(config.outDir);
      return trainBackbone(config, data, model, o);
    },
  });
  return { promise, trained, events };
}

/** Every stored unit result, without the fields that legitimately differ between runs. */
function storedResults(settings: ComparisonSettings) {
  const store = new ResultsStore(settings);
  return makePlan(settings).units.map((u) => {
    const r = JSON.parse(readFileSync(store.path(u), 'utf8'));
    delete r.finishedAt;
    delete r.seconds;
    delete r.resumedFrom;
    for (const h of r.history ?? []) {
      delete h.seconds;
      delete h.imagesPerSecond;
    }
    return [u.id, r];
  });
}

let dataDir: string;
let straight: ComparisonSettings;

test.after.always(removeTemporaryFolders);

test.before(async () => {
  dataDir = await tinyDataset();
  straight = tinySettings(dataDir, freshOutDir());
});

test.serial('an uninterrupted comparison trains each backbone once and stores every unit', async (t) => {
  const { promise, trained, events } = await run(straight);
  const { report, files } = await promise;
  const plan = makePlan(straight);
  t.is(trained.length, 4, 'one phase-1 training per (variant, seed)');
  t.is(new Set(trained).size, 4);
  t.false(report.partial);
  t.is(report.units.finished, 12);
  for (const u of plan.units) t.true(existsSync(new ResultsStore(straight).path(u)), u.id);
  t.is(events.filter((e) => e.kind === 'unit-done').length, 12);
  const eos = report.rows.find((r) => r.id === 'ce+eos')!;
  t.is(eos.seeds, 2);
  t.true(eos.metrics.balancedAccuracy.mean! > 0 && eos.metrics.balancedAccuracy.std !== null);
  t.true(eos.synthetic! > 0, 'eos adds minority rows');
  t.is(report.rows.find((r) => r.id === 'ce+none')!.synthetic, 0);
  t.is(report.gap.length, 2);
  t.is(report.gap[0].perClass.length, 4);
  t.is(report.curves.length, 4);
  t.is(report.curves[0].loss.length, 3);
  const md = readFileSync(files.markdown, 'utf8');
  for (const row of report.rows) {
    const label = row.label.replace(/[()+]/g, (c) => `\\${c}`);
    t.regex(md, new RegExp(`\\| (\\*\\*)?${label}(\\*\\*)? \\| (\\*\\*)?2/2`), row.label);
  }
  assertWellFormedXml(readFileSync(files.html, 'utf8'));
  t.is(JSON.parse(readFileSync(files.json, 'utf8')).units.finished, 12);

  // Run again: nothing left to do.
  const again = await run(straight);
  await again.promise;
  t.is(again.trained.length, 0);
  t.is(again.events.filter((e) => e.kind === 'unit-skip').length, 12);
  t.is(again.events.filter((e) => e.kind === 'unit-start').length, 0);
});

test.serial(
  'an interrupted comparison continues where it stopped and ends with the same results',
  async (t) => {
    const settings = tinySettings(dataDir, freshOutDir());
    // Stop during the second epoch of the third backbone (focal-seed0): after 2 trainings and 8 units.
    const controller = new AbortController();
    const first = await run(settings, {
      signal: controller.signal,
      onEvent: (e) => {
        if (e.kind === 'pipeline' && e.unit.id === 'focal-seed0' && e.event.kind === 'epoch')
          controller.abort();
      },
    });
    const aborted = await t.throwsAsync(first.promise, { instanceOf: ComparisonAborted });
    t.is(first.trained.length, 3);
    t.is(aborted!.outcome.report.units.finished, 8);
    t.true(aborted!.outcome.report.partial);
    t.regex(readFileSync(aborted!.outcome.files.markdown, 'utf8'), /PARTIAL RESULTS: 8 of 12 units/);
    assertWellFormedXml(readFileSync(aborted!.outcome.files.html, 'utf8'));
    t.true(existsSync(join(settings.outDir, 'units', 'focal-seed0', 'checkpoints', 'phase1.safetensors')));

    // --report-only on the unfinished comparison: the same partial report; nothing trains, no session is added.
    const sessionLog = JSON.stringify(readSessions(settings.outDir));
    const reported = reportComparison(settings.outDir);
    t.deepEqual(reported.report.rows, aborted!.outcome.report.rows);
    t.deepEqual(reported.report.paired, aborted!.outcome.report.paired);
    t.is(reported.report.command, 'eos compare (test)');
    t.is(reported.report.wallSeconds, aborted!.outcome.report.wallSeconds);
    t.is(JSON.stringify(readSessions(settings.outDir)), sessionLog);
    // The checkpoint carries the seconds trained so far into the next session.
    const checkpoint = join(settings.outDir, 'units', 'focal-seed0', 'checkpoints', 'phase1.safetensors');
    const spent = JSON.parse(readSafetensors(checkpoint).metadata['eos.train_state']!).seconds as number;
    t.true(spent > 0);

    const store = new ResultsStore(settings);
    const finished = makePlan(settings).units.filter((u) => existsSync(store.path(u)));
    t.is(finished.length, 8);
    const before = new Map(
      finished.map((u) => [
        u.id,
        { mtime: statSync(store.path(u)).mtimeMs, text: readFileSync(store.path(u), 'utf8') },
      ]),
    );

    const second = await run(settings);
    const { report } = await second.promise;
    t.false(report.partial);
    t.deepEqual(
      second.trained.map((d) => d.split('/').pop()),
      ['focal-seed0', 'focal-seed1'],
      'only the unfinished backbones train',
    );
    const resumed = second.events.find((e) => e.kind === 'unit-start' && e.unit.id === 'focal-seed0');
    t.is(resumed?.kind === 'unit-start' ? resumed.action : null, 'resume');
    const focal0 = JSON.parse(
      readFileSync(join(settings.outDir, 'units', 'focal-seed0', 'phase1.json'), 'utf8'),
    );
    t.is(focal0.resumedFrom.epoch, 1, 'phase 1 continued from its checkpoint');
    const resumedEpochs = focal0.history
      .slice(1)
      .reduce((sum: number, e: { seconds: number }) => sum + e.seconds, 0);
    t.true(focal0.seconds.phase1 >= spent + resumedEpochs, "both sessions' training counts");
    for (const [id, { mtime, text }] of before) {
      const u = finished.find((f) => f.id === id)!;
      t.is(statSync(store.path(u)).mtimeMs, mtime, `${id} not rewritten`);
      t.is(readFileSync(store.path(u), 'utf8'), text);
    }
    t.is(second.events.filter((e) => e.kind === 'unit-done').length, 4);
    t.is(readSessions(settings.outDir).length, 2);

    // The same numbers as the uninterrupted comparison (same seeds, same thread count: bitwise the same).
    const a = storedResults(settings).map(([id, r]) => [id, { ...r, key: { ...r.key, dataDir: null } }]);
    const b = storedResults(straight).map(([id, r]) => [id, { ...r, key: { ...r.key, dataDir: null } }]);
    t.deepEqual(a, b);
  },
);

test('--report-only without a comparison to report names the file it looked for', (t) => {
  t.throws(() => reportComparison(freshOutDir()), {
    message: /comparison\.json: no comparison has run in .*without --report-only first/,
  });
});

test.serial(
  'stored results made with other settings are refused, naming the file and the difference',
  async (t) => {
    const other = { ...straight, base: { ...straight.base, phase1: { ...straight.base.phase1, epochs: 4 } } };
    const { promise } = await run(other);
    const err = await t.throwsAsync(promise, { instanceOf: SettingsMismatchError });
    t.regex(
      err!.message,
      /ce-seed0[/\\]phase1\.json was made with other settings \(phase1\.epochs: 3 vs 4\)/,
    );
  },
);

test.serial('a sampler undefined on its data is recorded as settled and not retried', async (t) => {
  // k = 15 neighbours: SMOTE needs k + 1 images in each class; the smallest has fewer.
  const settings = tinySettings(dataDir, freshOutDir());
  settings.seeds = 1;
  settings.backbones = ['ce'];
  settings.base.kNeighbors = 15;
  const { promise, events } = await run(settings);
  const { report } = await promise;
  t.deepEqual(
    report.failures.map((f) => [f.unit, f.settled]),
    [['ce-seed0+smote', true]],
  );
  t.regex(report.failures[0].message, /^kNeighbors: class \d+ has \d+ samples; SMOTE needs at least 16/);
  t.true(events.some((e) => e.kind === 'unit-failed' && e.settled));
  // Every unit has its outcome: the comparison is complete, with one unit that has no result.
  t.false(report.partial);
  t.deepEqual([report.units.finished, report.units.settled, report.units.total], [3, 1, 4]);
  const smote = makePlan(settings).units[2];
  t.false(existsSync(new ResultsStore(settings).path(smote)));
  const files = readdirSync(join(settings.outDir, 'units', 'ce-seed0'));
  t.true(files.includes('phase23-eos.json'));
  // The failure is kept beside the results, so a report rewritten later still says why.
  t.true(files.includes('phase23-smote.failed.json'));
  const later = reportComparison(settings.outDir).report;
  t.deepEqual(later.failures, report.failures);
  t.regex(
    readFileSync(join(settings.outDir, 'results.md'), 'utf8'),
    /## Units without a result\n\n- ce-seed0\+smote: .*\(undefined on this data: recorded, not retried\)/,
  );

  // The next run neither retries it nor reloads the backbone for it (a fresh clone has no phase-1 model).
  const again = await run(settings);
  const second = await again.promise;
  t.false(again.events.some((e) => e.kind === 'reload' || e.kind === 'unit-start'));
  t.deepEqual(second.report.failures, report.failures);
  t.false(second.report.partial);

  // A failure recorded without `settled` (an older record, or a failure of the machine) is retried.
  const record = join(settings.outDir, 'units', 'ce-seed0', 'phase23-smote.failed.json');
  writeFileSync(record, JSON.stringify({ unit: 'ce-seed0+smote', message: 'out of memory' }));
  t.true(reportComparison(settings.outDir).report.partial);
  const retry = await run(settings);
  await retry.promise;
  t.true(retry.events.some((e) => e.kind === 'unit-start' && e.unit.id === 'ce-seed0+smote'));
  t.true(JSON.parse(readFileSync(record, 'utf8')).settled);

  // Settled holds for the settings it was found with only: with k = 5 SMOTE is defined, so it runs.
  settings.base.kNeighbors = 5;
  settings.samplers = ['smote'];
  const smaller = await run(settings);
  const k5 = (await smaller.promise).report;
  t.deepEqual(k5.failures, []);
  t.is(k5.units.finished, 2);
  t.false(existsSync(record));

  // Deleting phase1.json retrains the backbone, and what was fitted on the old network is redone.
  rmSync(join(settings.outDir, 'units', 'ce-seed0', 'phase1.json'));
  const retrained = await run(settings);
  await retrained.promise;
  t.is(retrained.trained.length, 1);
  t.true(retrained.events.some((e) => e.kind === 'unit-start' && e.unit.id === 'ce-seed0+smote'));
});
