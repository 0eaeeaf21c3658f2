// Every file name of a run directory, in one place: what `eos run` and `eos train` write there, and what the
// comparison harness keeps beside them in each backbone's directory (units/<variant>-seed<i>/).
import { join } from 'node:path';

export interface RunPaths {
  dir: string;
  /** The run configuration as given. */
  config: string;
  checkpoints: string;
  /** Phase-1 state after every epoch (and on interruption), to resume from. */
  phase1Checkpoint: string;
  /** The backbone after phase 1, with its phase-1 head. */
  phase1Model: string;
  /** The backbone with the main method's phase-3 head. */
  model: string;
  onnx: string;
  /** Phases 2+3 on a user's embeddings or ONNX backbone: the main method's head alone. */
  head: string;
  results: string;
  report: string;
  /** Harness: the stored result of the backbone unit. */
  phase1Result: string;
  /** Harness: the stored result of one sampler unit on this backbone. */
  samplerResult: (method: string) => string;
}

export function runPaths(dir: string): RunPaths {
  return {
    dir,
    config: join(dir, 'config.json'),
    checkpoints: join(dir, 'checkpoints'),
    phase1Checkpoint: join(dir, 'checkpoints', 'phase1.safetensors'),
    phase1Model: join(dir, 'phase1-model.safetensors'),
    model: join(dir, 'model.safetensors'),
    onnx: join(dir, 'model.onnx'),
    head: join(dir, 'head.safetensors'),
    results: join(dir, 'results.json'),
    report: join(dir, 'results.md'),
    phase1Result: join(dir, 'phase1.json'),
    samplerResult: (sampler) => join(dir, `phase23-${sampler}.json`),
  };
}
