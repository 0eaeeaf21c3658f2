// Writes the files of a run directory (names from run-paths.ts): the configuration when a run starts, the
// final model once phase 3 has picked its head, and the results with their report at the end.
import { mkdirSync } from 'node:fs';
import { writeFileAtomic } from '../io/atomic-write.js';
import { exportOnnx } from '../model/onnx-export.js';
import type { ResNet } from '../model/resnet.js';
import type { FineTunedHead } from '../train/fine-tune-head.js';
import type { RunConfig } from './config.js';
import { formatReport } from './report.js';
import type { RunPaths } from './run-paths.js';
import type { RunResult } from './types.js';

const jsonFile = (value: unknown) => [Buffer.from(`${JSON.stringify(value, null, 2)}\n`)];

/**
 * Creates the run directory (with its checkpoints folder, unless the run trains no backbone) and records the
 * configuration in it.
 */
export function startRunDirectory(paths: RunPaths, config: RunConfig<string>, checkpoints = true): void {
  mkdirSync(checkpoints ? paths.checkpoints : paths.dir, { recursive: true });
  writeFileAtomic(paths.config, jsonFile(config));
}

/** The backbone with `head` as its classifier, as safetensors and as ONNX (logits and embedding outputs). */
export function saveFinalModel(
  paths: RunPaths,
  model: ResNet,
  head: FineTunedHead,
  classNames?: string[],
): void {
  model.setHead(head);
  model.save(paths.model);
  exportOnnx(model.snapshot(), paths.onnx, { outputs: ['logits', 'embedding'], classNames });
}

export function writeRunResult(paths: RunPaths, result: RunResult, classNames?: string[]): void {
  writeFileAtomic(paths.results, jsonFile(result));
  writeFileAtomic(paths.report, [Buffer.from(formatReport(result, classNames))]);
}
