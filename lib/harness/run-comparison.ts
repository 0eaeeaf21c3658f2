// Runs a comparison plan unit by unit. Every phase-1 backbone is trained once, then reused for each sampler
// planned on it; each finished unit is stored at once (results-store.ts) and the reports are rewritten, so
// an interrupted comparison shows what it has and a restart skips what is done: a stored backbone is reloaded
// from its phase-1 model, an interrupted phase 1 continues from its checkpoint.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic-write.js';
import { checkOutputDirectory } from '../io/output-dir.js';
import { isAbortError } from '../native.js';
import { runPaths } from '../pipeline/run-paths.js';
import type { PipelineEvent, RunEmbeddings } from '../pipeline/types.js';
import { UndefinedOnDataError } from '../resample/undefined-on-data.js';
import { aggregate, type ComparisonReport } from './aggregate.js';
import { reloadEmbeddings, type TrainBackbone, trainBackboneUnit } from './backbone-unit.js';
import { ComparisonData } from './comparison-data.js';
import { fitSampler } from './fit-sampler.js';
import { describeMachine, type MachineInfo, machineLabel } from './machine.js';
import {
  type BackboneUnit,
  type ComparisonPlan,
  type ComparisonSettings,
  makePlan,
  type Unit,
  unitConfig,
} from './plan.js';
import { ResultsStore, type StoredFailure } from './results-store.js';
import { readSessions, SessionLog, type SessionRecord, sessionsDir, wallSeconds } from './session-log.js';
import { type Shard, shardBackbones, shardLabel } from './shard.js';
import { backboneKey, samplerKey, type UnitResult, withImplicitSgd } from './unit-results.js';
import { type ReportFiles, writeReports } from './write-reports.js';

export type ComparisonEvent =
  | {
      kind: 'plan';
      /** Of this run's shard (the whole plan without one). */
      units: number;
      finished: number;
      trainings: number;
      trainingsLeft: number;
      /** With a shard: its label and the whole plan's unit count. */
      shard?: string;
      planUnits?: number;
    }
  | { kind: 'unit-start'; unit: Unit; index: number; total: number; action: 'train' | 'resume' | 'fit' }
  | { kind: 'unit-skip'; unit: Unit; file: string }
  | { kind: 'unit-done'; unit: Unit; index: number; total: number; balancedAccuracy: number; seconds: number }
  | { kind: 'unit-failed'; unit: Unit; message: string; settled: boolean }
  | { kind: 'reload'; unit: BackboneUnit }
  | { kind: 'pipeline'; unit: BackboneUnit; event: PipelineEvent }
  | { kind: 'report'; files: ReportFiles; partial: boolean };

export interface ComparisonOptions {
  /** The command line the reports state (default: this process's argv). */
  command?: string;
  signal?: AbortSignal;
  onEvent?: (e: ComparisonEvent) => void;
  /** The phase-1 trainer (default trainBackbone; tests wrap it to count trainings). */
  train?: TrainBackbone;
  machine?: MachineInfo;
  /** Run only this shard's backbones (shard.ts); default: the whole plan. */
  shard?: Shard;
}

/** A report with the sessions (of every shard) that built it. */
export type SessionsReport = ComparisonReport & { sessionList: SessionRecord[] };

export interface ComparisonOutcome {
  report: SessionsReport;
  files: ReportFiles;
  /** Failures of units this run tried (the report's failures also hold other shards' and settled ones). */
  failed: Failure[];
}

export class ComparisonAborted extends Error {
  constructor(
    readonly outDir: string,
    readonly outcome: ComparisonOutcome,
  ) {
    super(
      `comparison interrupted: ${outcome.report.units.finished} of ${outcome.report.units.total} units are ` +
        `stored in ${outDir}; run the same command again to continue`,
    );
    this.name = 'ComparisonAborted';
  }
}

const isAbort = (err: unknown, signal?: AbortSignal) => isAbortError(err) || signal?.aborted === true;

export type Failure = { unit: string } & StoredFailure;

/**
 * The stored results of a plan's finished units, keyed by unit id (throws when one's settings differ), and
 * the recorded failures of units without a result.
 */
function readStoredResults(
  plan: ComparisonPlan,
  store: ResultsStore,
): { results: Map<string, UnitResult>; failures: Failure[] } {
  const { settings } = plan;
  const results = new Map<string, UnitResult>();
  const failures: Failure[] = [];
  for (const bp of plan.backbones) {
    const config = unitConfig(settings, bp.unit);
    const stored = store.read(bp.unit, backboneKey(config, settings.limits));
    // Sampler outcomes belong to the backbone they were fitted on: without its phase-1 result (not trained
    // yet, or deleted to retrain it) any found are from another network and are redone.
    if (!stored) continue;
    results.set(bp.unit.id, stored);
    for (const u of bp.samplers) {
      const key = samplerKey(config, settings.limits, u.sampler);
      const s = store.read(u, key);
      // A main-sampler result from before it was the main sampler lacks the "after" gap: redo it.
      if (s && !(u.sampler === settings.mainSampler && s.gapAfter === null)) results.set(u.id, s);
      else {
        const f = store.readFailure(u, key);
        if (f) failures.push({ unit: u.id, ...f });
      }
    }
  }
  return { results, failures };
}

/** Where a comparison records its settings and planned units, read back by --report-only. */
const planFile = (outDir: string) => join(outDir, 'comparison.json');

/** The settings a comparison in `outDir` was run with (outDir/comparison.json), pointed at `outDir`. */
export function readComparisonSettings(outDir: string): ComparisonSettings {
  const file = planFile(outDir);
  if (!existsSync(file)) {
    throw new Error(
      `${file}: no comparison has run in ${outDir}; run eos compare without --report-only first`,
    );
  }
  let settings: ComparisonSettings;
  try {
    settings = (JSON.parse(readFileSync(file, 'utf8')) as { settings: ComparisonSettings }).settings;
    if (typeof settings?.base !== 'object') throw new Error('no "settings" object');
  } catch (err) {
    throw new Error(`${file}: not a readable comparison plan (${(err as Error).message})`);
  }
  // The folder may have moved (or be named by another path) since the comparison ran.
  return { ...settings, outDir, base: { ...withImplicitSgd(settings.base), outDir } };
}

/** The report of what is stored in the plan's folder, with every session recorded there. */
function storedReport(
  plan: ComparisonPlan,
  store: ResultsStore,
  context: { command: string; machine: MachineInfo; now: Date },
): SessionsReport {
  const { results, failures } = readStoredResults(plan, store);
  const sessionList = readSessions(plan.settings.outDir);
  const report = aggregate(plan, results, {
    ...context,
    wallSeconds: wallSeconds(sessionList),
    sessions: sessionList.length,
    sessionList,
    failures,
  });
  return { ...report, sessionList };
}

/**
 * Rewrites results.{json,md,html} in `outDir` from its stored units alone, with the settings the comparison
 * was run with (outDir/comparison.json), so no flag can make it report a different plan. Nothing is trained
 * and no session is added: the report states the command, machine, date and wall time of the runs that made
 * it, and lists every session of every shard. For merging the shards of a comparison, a report made by an
 * older version, or a look at an unfinished comparison without continuing it. Units that failed show with
 * the message their last run recorded.
 */
export function reportComparison(outDir: string): ComparisonOutcome {
  const settings = readComparisonSettings(outDir);
  const plan = makePlan(settings);
  const sessions = readSessions(outDir);
  const last = sessions.reduce<SessionRecord | undefined>(
    (a, b) => (a === undefined || Date.parse(b.updated) >= Date.parse(a.updated) ? b : a),
    undefined,
  );
  if (last === undefined) throw new Error(`${sessionsDir(outDir)}: no session recorded`);
  const report = storedReport(plan, new ResultsStore(settings), {
    command: last.command,
    machine: last.machine,
    now: new Date(last.updated),
  });
  return { report, files: writeReports(outDir, report), failed: [] };
}

export async function runComparison(
  settings: ComparisonSettings,
  options: ComparisonOptions = {},
): Promise<ComparisonOutcome> {
  const plan = makePlan(settings);
  checkOutputDirectory(settings.outDir, 'outDir');
  const emit = options.onEvent ?? (() => {});
  const { signal } = options;
  const store = new ResultsStore(settings);
  const { results, failures: recorded } = readStoredResults(plan, store);
  // Units whose method is undefined on their data: done, without a result, and not retried.
  const settled = new Set(recorded.filter((f) => f.settled).map((f) => f.unit));

  const machine = options.machine ?? describeMachine();
  // Recorded in each unit this session finishes: the report tells apart seconds of different machines.
  const machineName = machineLabel(machine);
  const command = options.command ?? process.argv.join(' ');
  const shard = options.shard;
  const session = new SessionLog(settings.outDir, command, machine, new Date(), shard && shardLabel(shard));
  // Every shard of one command writes the same bytes here (the shard is not part of the settings), each
  // write atomic: whichever lands last, the file is whole and the same.
  writeFileAtomic(planFile(settings.outDir), [
    Buffer.from(`${JSON.stringify({ settings, units: plan.units.map((u) => u.id) }, null, 2)}\n`),
  ]);
  // This run's failures, for the caller's exit status.
  const failed: Failure[] = [];
  // The reports are of what is stored, read afresh each time, so a shard's reports also show the other
  // shards' units finished so far (each report file is written whole, atomically; `--report-only` after the
  // last shard is the complete merge). Failures come from the store too: a unit's record is its last run's.
  const render = (): ComparisonOutcome => {
    const now = new Date();
    session.touch(now);
    const report = storedReport(plan, store, { command, machine, now });
    const files = writeReports(settings.outDir, report);
    emit({ kind: 'report', files, partial: report.partial });
    return { report, files, failed };
  };

  const mine = shardBackbones(plan, shard);
  const mineUnits = mine.flatMap((b) => [b.unit, ...b.samplers]);
  emit({
    kind: 'plan',
    units: mineUnits.length,
    finished: mineUnits.filter((u) => results.has(u.id) || settled.has(u.id)).length,
    trainings: mine.length,
    trainingsLeft: mine.filter((b) => !results.has(b.unit.id)).length,
    ...(shard && { shard: shardLabel(shard), planUnits: plan.units.length }),
  });
  const data = new ComparisonData(settings.limits);
  const total = plan.units.length;
  const indexOf = new Map(plan.units.map((u, i) => [u.id, i + 1]));
  const throwIfAborted = () => signal?.throwIfAborted();
  try {
    for (const bp of mine) {
      const pending = bp.samplers.filter((u) => !results.has(u.id) && !settled.has(u.id));
      for (const u of [bp.unit, ...bp.samplers]) {
        if (results.has(u.id)) emit({ kind: 'unit-skip', unit: u, file: store.path(u) });
        if (settled.has(u.id)) emit({ kind: 'unit-skip', unit: u, file: store.failurePath(u) });
      }
      if (results.has(bp.unit.id) && pending.length === 0) continue;
      throwIfAborted();
      const config = unitConfig(settings, bp.unit);
      const runData = await data.forConfig(config);
      let embeddings: RunEmbeddings;
      if (results.has(bp.unit.id)) {
        emit({ kind: 'reload', unit: bp.unit });
        embeddings = await reloadEmbeddings(config, runData, signal);
      } else {
        const started = performance.now();
        const action = existsSync(runPaths(config.outDir).phase1Checkpoint) ? 'resume' : 'train';
        // Outcomes of samplers fitted on an earlier network of this unit (its phase1.json was deleted to
        // retrain it) must not survive beside the new one.
        for (const u of bp.samplers) store.remove(u);
        emit({ kind: 'unit-start', unit: bp.unit, index: indexOf.get(bp.unit.id)!, total, action });
        const trained = await trainBackboneUnit(settings, bp.unit, config, runData, {
          train: options.train,
          signal,
          emit: (event) => emit({ kind: 'pipeline', unit: bp.unit, event }),
        });
        const result = { ...trained.result, machine: machineName };
        store.write(bp.unit, result);
        results.set(bp.unit.id, result);
        embeddings = trained.embeddings;
        emit({
          kind: 'unit-done',
          unit: bp.unit,
          index: indexOf.get(bp.unit.id)!,
          total,
          balancedAccuracy: trained.result.test.balancedAccuracy,
          seconds: (performance.now() - started) / 1000,
        });
        render();
      }
      for (const u of pending) {
        throwIfAborted();
        const started = performance.now();
        emit({ kind: 'unit-start', unit: u, index: indexOf.get(u.id)!, total, action: 'fit' });
        try {
          const result = {
            ...(await fitSampler(settings, u, config, runData, embeddings, signal)),
            machine: machineName,
          };
          store.write(u, result);
          results.set(u.id, result);
          emit({
            kind: 'unit-done',
            unit: u,
            index: indexOf.get(u.id)!,
            total,
            balancedAccuracy: result.test.balancedAccuracy,
            seconds: (performance.now() - started) / 1000,
          });
        } catch (err) {
          if (isAbort(err, signal)) throw err;
          // A sampler that fails does so alone: it is reported and the comparison goes on. One that is undefined
          // on this data (e.g. a class smaller than its k) fails the same way every time, so it is settled;
          // any other failure is retried by the next run.
          const failure = { message: (err as Error).message, settled: err instanceof UndefinedOnDataError };
          failed.push({ unit: u.id, ...failure });
          store.writeFailure(u, failure, samplerKey(config, settings.limits, u.sampler));
          emit({ kind: 'unit-failed', unit: u, ...failure });
        }
        render();
      }
    }
  } catch (err) {
    if (isAbort(err, signal)) throw new ComparisonAborted(settings.outDir, render());
    render();
    throw err;
  }
  return render();
}
