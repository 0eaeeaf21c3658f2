// The invocations that built a comparison's results (<out>/sessions.json): a long comparison is often
// interrupted and continued, so its wall time is the sum over sessions, and each session records its command
// and machine. A session's end is the last time it finished a unit (rewritten then), so a session killed
// without warning still counts up to its last stored result.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic-write.js';
import type { MachineInfo } from './machine.js';

export interface SessionRecord {
  command: string;
  machine: MachineInfo;
  started: string;
  updated: string;
}

/** The sessions recorded in <outDir>/sessions.json (none when it does not exist). */
export function readSessions(outDir: string): SessionRecord[] {
  const file = join(outDir, 'sessions.json');
  if (!existsSync(file)) return [];
  try {
    const sessions = JSON.parse(readFileSync(file, 'utf8')) as SessionRecord[];
    if (!Array.isArray(sessions)) throw new Error('expected a JSON array');
    return sessions;
  } catch (err) {
    throw new Error(`${file}: not a readable session log (${(err as Error).message})`);
  }
}

/** Sum over sessions of (last update - start), seconds. */
export function wallSeconds(sessions: readonly SessionRecord[]): number {
  return sessions.reduce((s, r) => s + (Date.parse(r.updated) - Date.parse(r.started)) / 1000, 0);
}

export class SessionLog {
  private readonly file: string;
  private readonly sessions: SessionRecord[];
  private readonly current: SessionRecord;

  constructor(outDir: string, command: string, machine: MachineInfo, now = new Date()) {
    mkdirSync(outDir, { recursive: true });
    this.file = join(outDir, 'sessions.json');
    this.sessions = readSessions(outDir);
    this.current = { command, machine, started: now.toISOString(), updated: now.toISOString() };
    this.sessions.push(this.current);
    this.save();
  }

  /** Marks the current session as alive until `now` and saves the log. */
  touch(now = new Date()): void {
    this.current.updated = now.toISOString();
    this.save();
  }

  get all(): readonly SessionRecord[] {
    return this.sessions;
  }

  /** Sum over sessions of (last update - start), seconds. */
  wallSeconds(): number {
    return wallSeconds(this.sessions);
  }

  private save(): void {
    writeFileAtomic(this.file, [Buffer.from(`${JSON.stringify(this.sessions, null, 1)}\n`)]);
  }
}
