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
  if (typeof dir !== 'string' || dir.trim() === '') {
    throw new RangeError(`${what}: expected the path of an output directory, got an empty string`);
  }
  const path = resolve(dir);
  let found: { at: string; isPath: boolean };
  try {
    found = nearestExisting(path);
  } catch (err) {
    throw new Error(`${what} ${dir}: cannot be used (${errorCode(err) ?? (err as Error).message})`);
  }
  if (!statSync(found.at).isDirectory()) {
    throw new Error(
      found.isPath
        ? `${what} ${dir}: is a file, expected a directory`
        : `${what} ${dir}: ${found.at} is a file, so no directory can be made under it`,
    );
  }
  const kind = PSEUDO_FILE_SYSTEMS.get(Number(statfsSync(found.at).type));
  if (kind !== undefined) {
    throw new Error(
      `${what} ${dir}: ${found.at} is on the ${kind} pseudo file system; choose a real directory`,
    );
  }
  try {
    accessSync(found.at, constants.W_OK | constants.X_OK);
  } catch {
    throw new Error(
      found.isPath
        ? `${what} ${dir}: the directory is not writable`
        : `${what} ${dir}: ${found.at} is not writable, so the directory cannot be made`,
    );
  }
}
