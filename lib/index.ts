// Public API of eos-imbalance (see README.md for examples).

export { OnnxBackbone, type OnnxBackboneOptions } from './backbone/onnx-backbone.js';
export * from './data/index.js';
export {
  AUGMENTATION,
  BATCH,
  FOLDER,
  INFERENCE_BATCH,
  LIMITS,
  LOSS,
  PHASE1,
  PHASE3,
  SGD,
} from './defaults.js';
export * from './metrics/index.js';
export { type ExportOptions, exportOnnx, type ModelWeights, type OnnxOutput } from './model/onnx-export.js';
export { type BackendName, type CreateOptions, type ImageBatch, ResNet } from './model/resnet.js';
export { readSafetensors, type Tensor, writeSafetensors } from './model/safetensors.js';
export { type Normalization, parameterShapes, type ResNetSpec } from './model/spec.js';
export { readStateDict, weightsOf } from './model/state-dict.js';
export { type AugmentOptions, loadNative, type NativeInfo, NativeLoadError, native } from './native.js';
export { PRESETS, type RunConfig } from './pipeline/config.js';
export { type EmbeddingFiles, fitHeadOnFiles } from './pipeline/fit-head-files.js';
export type { HeadsRunResult, HeadsSource } from './pipeline/heads-run.js';
export { type BackboneChoice, runOnBackbone } from './pipeline/run-on-backbone.js';
export { runPhase1Only } from './pipeline/run-phase1-only.js';
export { runThreePhase } from './pipeline/run-three-phase.js';
export {
  resampleWith,
  SAMPLER_NAMES,
  SAMPLERS,
  type SamplerChoice,
  type SamplerId,
  type SamplerName,
} from './pipeline/samplers.js';
export type {
  MethodResult,
  Phase1OnlyResult,
  PipelineEvent,
  RunOptions,
  RunResult,
} from './pipeline/types.js';
export * from './resample/index.js';
export { Classifier, type ClassifierOptions, type Prediction } from './serve/classifier.js';
export { serve } from './serve/http-server.js';
export { effectiveNumberWeights, type TrainRule } from './train/class-weights.js';
export { type FineTunedHead, fineTuneHead, headLogits } from './train/fine-tune-head.js';
export { type LrSchedule, learningRateAt, PAPER_PHASE1_SCHEDULE } from './train/lr-schedule.js';
export { type EpochRecord, type Phase1Options, trainPhase1 } from './train/phase1.js';
