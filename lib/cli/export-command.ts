// `eos export`: a checkpoint (safetensors state dict, ours or PyTorch's) -> ONNX model for services.
import { exportOnnx, type OnnxOutput } from '../model/onnx-export.js';
import { readStateDict, weightsOf } from '../model/state-dict.js';
import { packageVersion } from './info.js';

export interface ExportCommandOptions {
  out: string;
  embedding?: boolean;
  inputSize?: number;
  mean?: number[];
  std?: number[];
}

export function exportCommand(checkpoint: string, opts: ExportCommandOptions): string {
  const state = readStateDict(checkpoint, opts.inputSize);
  const saved = state.metadata['eos.normalization']
    ? JSON.parse(state.metadata['eos.normalization'])
    : undefined;
  const mean = opts.mean ?? saved?.mean;
  const std = opts.std ?? saved?.std;
  if (!mean || !std) {
    throw new Error(
      `${checkpoint} does not record its input normalisation: pass --mean and --std (one value per channel)`,
    );
  }
  if (mean.length !== state.spec.inChannels || std.length !== state.spec.inChannels) {
    throw new Error(`--mean and --std need ${state.spec.inChannels} values (one per input channel)`);
  }
  const outputs: OnnxOutput[] = opts.embedding ? ['logits', 'embedding'] : ['logits'];
  exportOnnx(weightsOf(state, { mean, std }), opts.out, {
    outputs,
    libraryVersion: packageVersion().version,
  });
  return `exported ${checkpoint} (ResNet-${state.spec.depth}, ${state.spec.classes} classes, input ${state.spec.inChannels}x${state.spec.inputSize}x${state.spec.inputSize}) to ${opts.out} [outputs: ${outputs.join(', ')}]`;
}
