// The invocations that built a comparison's results: a long comparison is often interrupted and continued,
// or split into shards that run at once on several machines, and each session records its command, machine,
// host and shard. Each session writes only its own file, <out>/sessions/<start>-<host>-<pid>-<shard>.json
// (atomically), so concurrent shards on a shared file system never read-modify-write a shared log; the
// report reads them all. A session's end is the last time it finished a unit (rewritten then), so a session
// killed without warning still counts up to its last stored result. <out>/sessions.json, the single log of
// older versions, is still read.
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic-write.js';
import type { MachineInfo } from './machine.js';

export interface SessionRecord {
  command: string;
  machine: MachineInfo;
  started: string;
  updated: string;
  /** The host name and pid of the process (absent in logs of older versions). */
  host?: string;
  pid?: number;
  /** "I/N" for a shard; absent for the whole plan. */
  shard?: string;
}

/** The folder of the per-session files. */
export const sessionsDir = (outDir: string) => join(outDir, 'sessions');

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`${file}: not a readable session log (${(err as Error).message})`);
  }
}

/** Every session recorded in outDir (the older sessions.json, then sessions/*.json), oldest first. */
export function readSessions(outDir: string): SessionRecord[] {
  const sessions: SessionRecord[] = [];
  const legacy = join(outDir, 'sessions.json');
  if (existsSync(legacy)) {
    const list = readJson(legacy);
    if (!Array.isArray(list))
      throw new Error(`${legacy}: not a readable session log (expected a JSON array)`);
    sessions.push(...(list as SessionRecord[]));
  }
  const dir = sessionsDir(outDir);
  if (existsSync(dir)) {
    // Temporaries of writes in flight start with '.' (atomic-write.ts) and are skipped.
    for (const name of readdirSync(dir).sort()) {
      if (name.startsWith('.') || !name.endsWith('.json')) continue;
      const record = readJson(join(dir, name)) as SessionRecord;
      if (typeof record?.started !== 'string')
        throw new Error(`${join(dir, name)}: not a readable session log (no "started")`);
      sessions.push(record);
    }
  }
  return sessions.sort((a, b) => Date.parse(a.started) - Date.parse(b.started));
}

/**
 * Seconds during which at least one session was running: the union of the sessions' intervals, so that
 * shards running at once count once, and sessions one after another add up.
 */
export function wallSeconds(sessions: readonly SessionRecord[]): number {
  const spans = sessions
    .map((r) => [Date.parse(r.started), Date.parse(r.updated)] as const)
    .sort((a, b) => a[0] - b[0]);
  let total = 0;
  let end = -Infinity;
  for (const [s, e] of spans) {
    if (e <= end) continue;
    total += e - Math.max(s, end);
    end = e;
  }
  return total / 1000;
}

/** A file-name-safe form of a host name. */
const safe = (text: string) => text.replace(/[^\w.-]+/g, '_').slice(0, 64) || 'host';

export class SessionLog {
  private readonly file: string;
  private readonly current: SessionRecord;

  constructor(outDir: string, command: string, machine: MachineInfo, now = new Date(), shard?: string) {
    const dir = sessionsDir(outDir);
    mkdirSync(dir, { recursive: true });
    const host = hostname();
    this.current = {
      command,
      machine,
      started: now.toISOString(),
      updated: now.toISOString(),
      host,
      pid: process.pid,
      ...(shard === undefined ? {} : { shard }),
    };
    // The start time keeps two sessions with one pid on one host (containers often run as pid 1) apart.
    const stamp = now.toISOString().replace(/[:.]/g, '-');
    const shardPart = shard === undefined ? 'all' : `shard${shard.replace('/', 'of')}`;
    this.file = join(dir, `${stamp}-${safe(host)}-${process.pid}-${shardPart}.json`);
    this.save();
  }

  /** Marks the current session as alive until `now` and saves its file. */
  touch(now = new Date()): void {
    this.current.updated = now.toISOString();
    this.save();
  }

  private save(): void {
    writeFileAtomic(this.file, [Buffer.from(`${JSON.stringify(this.current, null, 1)}\n`)]);
  }
}
