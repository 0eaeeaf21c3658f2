// What `eos run` and `eos train` (and their library calls) check before any work starts: the configuration's
// ranges, an output directory that can be written, and, when resuming, a checkpoint to resume.
import { existsSync } from 'node:fs';
import { checkOutputDirectory } from '../io/output-dir.js';
import { type RunConfig, validateConfig } from './config.js';
import { runPaths } from './run-paths.js';
import type { RunOptions } from './types.js';

/**
 * Throws an Error naming the setting at fault. `names` says how the caller calls the output directory and
 * the resume switch (the CLI: '--out' and '--resume').
 */
export function checkRunStart(
  config: RunConfig,
  options: Pick<RunOptions, 'resume'>,
  names = { outDir: 'outDir', resume: 'resume' },
): void {
  validateConfig(config);
  checkOutputDirectory(config.outDir, names.outDir);
  const checkpoint = runPaths(config.outDir).phase1Checkpoint;
  if (options.resume && !existsSync(checkpoint)) {
    throw new Error(
      `${names.resume}: there is no phase-1 checkpoint to resume (${checkpoint} does not exist); ` +
        `leave ${names.resume} out to start afresh, or name the output directory of the run to resume`,
    );
  }
}
