// `eos export`: a checkpoint (safetensors state dict, ours or PyTorch's) -> ONNX model for services.
// Everything is checked before the ONNX file is written (the output path first, before the checkpoint is
// even read), and errors name the flag or the file the bad value came from.
import { checkOutputFile } from '../io/output-dir.js';
import { checkNormalization, exportOnnx, type OnnxOutput } from '../model/onnx-export.js';
import type { Normalization } from '../model/spec.js';
import { readStateDict, weightsOf } from '../model/state-dict.js';
import { packageVersion } from './info.js';

export interface ExportCommandOptions {
  out: string;
  embedding?: boolean;
  inputSize?: number;
  mean?: number[];
  std?: number[];
}

/** The checkpoint's recorded normalisation (`eos.normalization` metadata), if any. */
function savedNormalization(
  checkpoint: string,
  metadata: Record<string, string>,
): Partial<Normalization> | undefined {
  const text = metadata['eos.normalization'];
  if (text === undefined) return undefined;
  try {
    const parsed = JSON.parse(text);
    if (parsed !== null && typeof parsed === 'object') return parsed as Partial<Normalization>;
  } catch {
    // reported below, with the file's name
  }
  throw new Error(
    `${checkpoint}: metadata eos.normalization must be JSON {"mean": [...], "std": [...]}, got ${text.slice(0, 80)}`,
  );
}

export function exportCommand(checkpoint: string, opts: ExportCommandOptions): string {
  checkOutputFile(opts.out, '--out');
  const state = readStateDict(checkpoint, opts.inputSize);
  // Flags win; the recorded values are read (and must parse) only where a flag is missing.
  const saved = opts.mean && opts.std ? undefined : savedNormalization(checkpoint, state.metadata);
  const mean = opts.mean ?? saved?.mean;
  const std = opts.std ?? saved?.std;
  if (!mean || !std) {
    throw new Error(
      `${checkpoint} does not record its input normalisation: pass --mean and --std (one value per channel)`,
    );
  }
  // Name where each list came from, so that a bad value points at the flag or at the checkpoint.
  const fromFile = `${checkpoint} metadata eos.normalization`;
  checkNormalization({ mean, std }, state.spec.inChannels, {
    mean: opts.mean ? '--mean' : `${fromFile}.mean`,
    std: opts.std ? '--std' : `${fromFile}.std`,
  });
  const outputs: OnnxOutput[] = opts.embedding ? ['logits', 'embedding'] : ['logits'];
  exportOnnx(weightsOf(state, { mean, std }), opts.out, {
    outputs,
    libraryVersion: packageVersion().version,
  });
  return `exported ${checkpoint} (ResNet-${state.spec.depth}, ${state.spec.classes} classes, input ${state.spec.inChannels}x${state.spec.inputSize}x${state.spec.inputSize}) to ${opts.out} [outputs: ${outputs.join(', ')}]`;
}
