// Which machine class ran each unit. A comparison resumed or sharded across machines mixes their clocks: an
// AVX2 CPU trains several times slower than an AVX-512 one, so the report's seconds compare only between
// units of one machine class, and it must say which ran which. A unit records the machine that finished it
// (`machine`); for units stored before that was recorded, it is the machine of the session that was running
// when the unit finished, when that is unambiguous.
import { type MachineInfo, machineLabel } from './machine.js';
import type { SessionRecord } from './session-log.js';
import type { UnitResult } from './unit-results.js';

/** What a report shows for a unit whose machine is not known (older results, overlapping sessions). */
export const UNKNOWN_MACHINE = 'unknown machine';

type Session = Pick<SessionRecord, 'started' | 'updated'> & { machine: MachineInfo };

/**
 * The unit's recorded machine, else the machine of the sessions running at its finishedAt (started at or
 * before it, last updated at or after it), else of the last session started before it (a session killed
 * between storing a unit and touching its log); unknown when those sessions ran on different machines.
 */
export function unitMachine(result: UnitResult, sessions: readonly Session[]): string {
  if (result.machine !== undefined) return result.machine;
  const at = Date.parse(result.finishedAt);
  const before = sessions.filter((s) => Date.parse(s.started) <= at);
  const running = before.filter((s) => Date.parse(s.updated) >= at);
  const last = before.reduce<Session[]>(
    (best, s) => (best.length === 0 || Date.parse(s.started) > Date.parse(best[0]!.started) ? [s] : best),
    [],
  );
  const labels = new Set((running.length > 0 ? running : last).map((s) => machineLabel(s.machine)));
  return labels.size === 1 ? [...labels][0]! : UNKNOWN_MACHINE;
}

/** The machine classes of the units, each with its unit count, in order of their first finished unit. */
export function machineClasses(
  results: Iterable<UnitResult>,
  machineOf: (r: UnitResult) => string,
): { label: string; units: number }[] {
  const sorted = [...results].sort((a, b) => Date.parse(a.finishedAt) - Date.parse(b.finishedAt));
  const counts = new Map<string, number>();
  for (const r of sorted) counts.set(machineOf(r), (counts.get(machineOf(r)) ?? 0) + 1);
  return [...counts].map(([label, units]) => ({ label, units }));
}
