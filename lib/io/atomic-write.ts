// Writes a file so that readers never see it half-written: the bytes go to a temporary name in the same
// directory (same file system, so the rename is atomic), are flushed to disk, then renamed over the target.
// A crash or kill at any point leaves either the previous file or the complete new one, never a mix.
//
// The temporary name is .<name>.<pid>.<host>.<random>.tmp. A failed write removes its own; a killed process
// cannot, so each write of a target first removes the temporaries earlier writes of that target left behind:
// those whose process is gone. <host> (a hash of the host name) keeps a shard on another machine writing into
// the same shared folder from losing its temporary file to us, since its pid means nothing here.
//
// Errors name the target the caller gave, never the temporary file, and say what is wrong with it.

import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';

/** A write that failed, with the target's path (not the temporary file's) and the system error code. */
export class WriteFileError extends Error {
  override name = 'WriteFileError';

  constructor(
    readonly path: string,
    readonly code: string | undefined,
    detail: string,
    options?: { cause: unknown },
  ) {
    super(`${path}: cannot write the file: ${detail}`, options);
  }
}

const HOST = createHash('sha256').update(hostname()).digest('hex').slice(0, 8);

/** Temporary files of `name`: .<name>.<pid>.<host>.<random>.tmp (and .<name>.<pid>.<random>.tmp from before hosts were named). */
function temporaryPattern(name: string): RegExp {
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^\\.${escaped}\\.(\\d+)\\.(?:([0-9a-f]{8})\\.)?[0-9a-f]+\\.tmp$`);
}

function isAlive(pid: number): boolean {
  // Our own writes are synchronous and this library writes from the main thread only, so none of ours is in
  // flight now: a temporary with our pid is from an earlier process that had it (pids repeat in containers).
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

/** Removes the temporary files that crashed writes of `path` left in its folder (best effort). */
export function removeStaleTemporaries(path: string): void {
  const folder = dirname(path);
  const pattern = temporaryPattern(basename(path));
  let entries: string[];
  try {
    entries = readdirSync(folder);
  } catch {
    return; // the write itself will report the folder's problem
  }
  const prefix = `.${basename(path)}.`;
  for (const entry of entries) {
    // One readdir per write: cheap next to the write, even in a results folder of many files.
    if (!entry.startsWith(prefix)) continue;
    const match = pattern.exec(entry);
    if (match === null) continue;
    const host = match[2];
    // A name without a host is from an older version that wrote on this machine or another; a live pid
    // here keeps it, like any of ours.
    if ((host === undefined || host === HOST) && !isAlive(Number(match[1]))) {
      try {
        rmSync(join(folder, entry), { force: true });
      } catch {
        // not ours to remove (permissions): harmless, and the write itself may still succeed
      }
    }
  }
}

/** What went wrong, in the user's terms; `folder` is the target's directory. */
function describe(err: NodeJS.ErrnoException, folder: string): string {
  switch (err.code) {
    case 'ENOENT':
      return `the folder ${folder} does not exist`;
    case 'ENOTDIR':
      return `${folder} is not a folder (a part of the path is a file)`;
    case 'EACCES':
    case 'EPERM':
      return `permission denied (no write access to ${folder} or to the file)`;
    case 'EISDIR':
    case 'ENOTEMPTY':
    case 'EEXIST':
      return 'it is a directory, expected a file name';
    case 'EROFS':
      return `${folder} is on a read-only file system`;
    case 'ENOSPC':
      return 'no space left on the device';
    case 'EDQUOT':
      return 'disk quota exceeded';
    default:
      // Node's text ends in the temporary path ("..., open '/x/.a.123.tmp'"): keep only what it says.
      return err.message.replace(/, \w+ '.*'$/, '');
  }
}

function refuseDirectory(path: string): void {
  let isDirectory = false;
  try {
    isDirectory = statSync(path).isDirectory();
  } catch {
    // absent (the usual case) or unreadable: the write says which
  }
  if (isDirectory) throw new WriteFileError(path, 'EISDIR', 'it is a directory, expected a file name');
}

/** Writes `chunks` in order to `path`, atomically. Throws WriteFileError naming `path`. */
export function writeFileAtomic(path: string, chunks: ArrayBufferView[]): void {
  const folder = dirname(path);
  // Checked first so that a directory given as the output fails before any bytes are written.
  refuseDirectory(path);
  removeStaleTemporaries(path);
  const tmp = join(folder, `.${basename(path)}.${process.pid}.${HOST}.${randomBytes(4).toString('hex')}.tmp`);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'w');
    for (const chunk of chunks) {
      const bytes = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      let written = 0;
      while (written < bytes.byteLength) written += writeSync(fd, bytes, written, bytes.byteLength - written);
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (err) {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        // the write's own error is the one to report
      }
    }
    try {
      rmSync(tmp, { force: true });
    } catch {
      // as above: the write's own error is the one to report
    }
    const e = err as NodeJS.ErrnoException;
    throw new WriteFileError(path, e.code, describe(e, folder), { cause: err });
  }
}
