// The comparison's results store: one JSON file per finished unit, written atomically, next to the
// backbone's checkpoints (<out>/units/<variant>-seed<i>/phase1.json and phase23-<sampler>.json). A file exists
// only once its unit is complete, so "is it finished?" is "does its file exist?". Each file records the
// settings that produced it; reading one made with other settings is an error, never a silent mix.
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic-write.js';
import { runPaths } from '../pipeline/run-paths.js';
import { backboneDir, type ComparisonSettings, type Unit } from './plan.js';
import { type BackboneResult, type SamplerResult, type UnitResult, withImplicitSgd } from './unit-results.js';

export class SettingsMismatchError extends Error {
  constructor(
    readonly file: string,
    readonly differences: string[],
  ) {
    super(
      `${file} was made with other settings (${differences.join('; ')}); continue with the settings it was made ` +
        'with, or choose another --out',
    );
    this.name = 'SettingsMismatchError';
  }
}

/** The paths where two JSON values differ, as "path: stored vs expected". */
export function jsonDifferences(stored: unknown, expected: unknown, path = ''): string[] {
  if (
    typeof stored === 'object' &&
    stored !== null &&
    typeof expected === 'object' &&
    expected !== null &&
    !Array.isArray(stored) &&
    !Array.isArray(expected)
  ) {
    const keys = new Set([...Object.keys(stored), ...Object.keys(expected)]);
    return [...keys].flatMap((k) =>
      jsonDifferences(
        (stored as Record<string, unknown>)[k],
        (expected as Record<string, unknown>)[k],
        path ? `${path}.${k}` : k,
      ),
    );
  }
  const a = JSON.stringify(stored ?? null);
  const b = JSON.stringify(expected ?? null);
  return a === b ? [] : [`${path || '(root)'}: ${a} vs ${b}`];
}

export interface StoredFailure {
  message: string;
  /** True when retrying cannot help (see UndefinedOnDataError): the unit is done, without a result. */
  settled: boolean;
}

export class ResultsStore {
  constructor(private readonly settings: ComparisonSettings) {}

  path(unit: Unit): string {
    const paths = runPaths(backboneDir(this.settings, unit));
    return unit.kind === 'phase1' ? paths.phase1Result : paths.samplerResult(unit.sampler);
  }

  /** The stored result of a unit, or null when it has not finished; throws when its key differs. */
  read(unit: Unit & { kind: 'phase1' }, expectedKey: unknown): BackboneResult | null;
  read(unit: Unit & { kind: 'phase23' }, expectedKey: unknown): SamplerResult | null;
  read(unit: Unit, expectedKey: unknown): UnitResult | null {
    const file = this.path(unit);
    if (!existsSync(file)) return null;
    let stored: UnitResult;
    try {
      stored = JSON.parse(readFileSync(file, 'utf8')) as UnitResult;
    } catch (err) {
      throw new Error(
        `${file}: not a readable unit result (${(err as Error).message}); delete it to redo the unit`,
      );
    }
    const differences = jsonDifferences(withImplicitSgd(stored.key), expectedKey);
    if (differences.length > 0) throw new SettingsMismatchError(file, differences);
    return stored;
  }

  write(unit: Unit, result: UnitResult): string {
    const file = this.path(unit);
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileAtomic(file, [Buffer.from(`${JSON.stringify(result, null, 1)}\n`)]);
    rmSync(this.failurePath(unit), { force: true });
    return file;
  }

  /**
   * A unit that failed (e.g. a sampler that is undefined on this data) has no result; its message is kept
   * beside the results so that every report, also --report-only, says why. `settled` marks a failure that
   * retrying cannot change (the method is undefined on these rows with these settings): the next run skips
   * it. Any other failure is retried by the next run.
   */
  writeFailure(unit: Unit, failure: StoredFailure, key: unknown): void {
    const file = this.failurePath(unit);
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileAtomic(file, [Buffer.from(`${JSON.stringify({ unit: unit.id, ...failure, key }, null, 1)}\n`)]);
  }

  /**
   * The failure recorded for a unit without a result, or null. It stays settled only while it was made with
   * the settings `expectedKey` describes (other settings, e.g. another k, may well be defined): a record made
   * with other settings, or without `settled`, is retried.
   */
  readFailure(unit: Unit, expectedKey: unknown): StoredFailure | null {
    const file = this.failurePath(unit);
    if (!existsSync(file)) return null;
    try {
      const record = JSON.parse(readFileSync(file, 'utf8')) as {
        message: unknown;
        settled?: unknown;
        key?: unknown;
      };
      const sameSettings = jsonDifferences(withImplicitSgd(record.key), expectedKey).length === 0;
      return { message: String(record.message), settled: record.settled === true && sameSettings };
    } catch (err) {
      return { message: `(unreadable failure record ${file}: ${(err as Error).message})`, settled: false };
    }
  }

  /** Forgets a unit's outcome: its result and its failure record. */
  remove(unit: Unit): void {
    rmSync(this.path(unit), { force: true });
    rmSync(this.failurePath(unit), { force: true });
  }

  failurePath(unit: Unit): string {
    return this.path(unit).replace(/\.json$/, '.failed.json');
  }
}
