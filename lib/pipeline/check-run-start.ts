// What `eos run` and `eos train` (and their library calls) check before any work starts: the configuration's
// ranges, a backend this addon can run here, an output directory that can be written, and, when resuming, a
// checkpoint to resume.
import { existsSync } from 'node:fs';
import { checkOutputDirectory } from '../io/output-dir.js';
import { type BackendChoice, native } from '../native.js';
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
  names = { outDir: 'outDir', resume: 'resume', backend: 'backend' },
): void {
  validateConfig(config);
  checkBackendHere(config.backend, names.backend);
  checkOutputDirectory(config.outDir, names.outDir);
  const checkpoint = runPaths(config.outDir).phase1Checkpoint;
  if (options.resume && !existsSync(checkpoint)) {
    throw new Error(
      `${names.resume}: there is no phase-1 checkpoint to resume (${checkpoint} does not exist); ` +
        `leave ${names.resume} out to start afresh, or name the output directory of the run to resume`,
    );
  }
}

/**
 * The engine refuses a backend this addon lacks (or 'cuda' without a GPU) only when it is made, after the
 * data set is loaded; this says so first.
 */
function checkBackendHere(backend: BackendChoice, name: string): void {
  if (backend === 'auto') return;
  const info = native().info();
  const others = info.backends.filter((b) => b !== backend).join(', ');
  if (!info.backends.includes(backend)) {
    const how =
      backend === 'cuda'
        ? 'CUDA (rebuild it with npx cmake-js compile --CDEOS_CUDA=ON; nvcc needed)'
        : 'oneDNN (install libdnnl-dev and rebuild with npm run build:native)';
    throw new Error(`${name} ${backend}: this addon was built without ${how}; use auto, ${others}`);
  }
  if (backend === 'cuda' && info.cudaInfo?.unavailable) {
    throw new Error(`${name} cuda: ${info.cudaInfo.unavailable}; use auto, ${others}`);
  }
}
