// The check of an output directory before a run starts: a run that cannot write its checkpoints or results
// must fail at once, not after hours of training. The directory may not exist yet (the run creates it), but
// the path must be non-empty, its nearest existing ancestor a writable directory, and both on a real file
// system: /proc, /sys and their kind accept neither files nor directories (a recursive mkdir under /proc
// spins forever in Node 20 instead of failing).
import { accessSync, constants, statfsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

// statfs f_type of the kernel's pseudo file systems (linux/magic.h): nothing a run writes belongs there.
const PSEUDO_FILE_SYSTEMS = new Map<number, string>([
  [0x9fa0, 'proc'],
  [0x62656572, 'sysfs'],
  [0x1cd1, 'devpts'],
  [0x27e0eb, 'cgroup'],
  [0x63677270, 'cgroup2'],
  [0x64626720, 'debugfs'],
  [0x74726163, 'tracefs'],
  [0x73636673, 'securityfs'],
  [0xcafe4a11, 'bpf'],
  [0x6e736673, 'nsfs'],
]);

function errorCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException).code;
}

/** The path itself when it exists, else its nearest existing ancestor (with whether it was the path). */
function nearestExisting(path: string): { at: string; isPath: boolean } {
  let at = path;
  for (;;) {
    try {
      statSync(at);
      return { at, isPath: at === path };
    } catch (err) {
      const parent = dirname(at);
      if (errorCode(err) !== 'ENOENT' || parent === at) throw err;
      at = parent;
    }
  }
}

/**
 * Throws an Error naming `what` (the flag or option) unless `dir` can be the output directory of a run.
 * Creates nothing.
 */
export function checkOutputDirectory(dir: string, what: string): void {
  checkWritablePlace(dir, what, 'directory');
}

/**
 * Throws an Error naming `what` unless `file` can be written: not a directory, in a directory that exists (or
 * can be made) on a real file system and is writable. Creates nothing.
 */
export function checkOutputFile(file: string, what: string): void {
  checkWritablePlace(file, what, 'file');
}

function checkWritablePlace(dir: string, what: string, kind: 'directory' | 'file'): void {
  if (typeof dir !== 'string' || dir.trim() === '') {
    throw new RangeError(`${what}: expected the path of an output ${kind}, got an empty string`);
  }
  const path = resolve(dir);
  let found: { at: string; isPath: boolean };
  try {
    found = nearestExisting(path);
  } catch (err) {
    const code = errorCode(err);
    const detail =
      code === 'ENOTDIR'
        ? 'a part of the path is a file, not a directory'
        : code === 'EACCES'
          ? 'permission denied (a directory on the path cannot be searched)'
          : `cannot be used (${code ?? (err as Error).message})`;
    throw new Error(`${what} ${dir}: ${detail}`);
  }
  const isDirectory = statSync(found.at).isDirectory();
  if (kind === 'file') {
    // A file is written into its directory as it is: the directory must exist.
    if (found.isPath && isDirectory) throw new Error(`${what} ${dir}: is a directory, expected a file name`);
    if (!found.isPath && found.at !== dirname(path))
      throw new Error(`${what} ${dir}: the directory ${dirname(path)} does not exist`);
    if (!found.isPath && !isDirectory)
      throw new Error(`${what} ${dir}: ${found.at} is a file, not a directory`);
    found = { at: dirname(path), isPath: false };
  } else if (!isDirectory) {
    throw new Error(
      found.isPath
        ? `${what} ${dir}: is a file, expected a directory`
        : `${what} ${dir}: ${found.at} is a file, so no directory can be made under it`,
    );
  }
  const pseudo = PSEUDO_FILE_SYSTEMS.get(Number(statfsSync(found.at).type));
  if (pseudo !== undefined) {
    throw new Error(
      `${what} ${dir}: ${found.at} is on the ${pseudo} pseudo file system; choose a real directory`,
    );
  }
  try {
    accessSync(found.at, constants.W_OK | constants.X_OK);
  } catch {
    throw new Error(
      found.isPath
        ? `${what} ${dir}: the directory is not writable`
        : `${what} ${dir}: ${found.at} is not writable, so the ${kind} cannot be made`,
    );
  }
}
