// Over-samplers with one API (imbalanced-learn's conventions):
//   const { x, y, provenance, fallbacks } = await new EOS({ kNeighbors: 10, seed: 0 }).fitResample(x, y, d);

export { Xoshiro128 } from '../random.js';
export { ADASYN, type ADASYNOptions, adasynCounts } from './adasyn.js';
export {
  type BorderlineKind,
  BorderlineSMOTE,
  type BorderlineSMOTEOptions,
  dangerFlags,
} from './borderline-smote.js';
export { EOS, type EOSOptions } from './eos.js';
export {
  isKnnMethodName,
  KNN_METHODS,
  type KnnChoice,
  type KnnMethodName,
  type KnnSearchRecord,
} from './knn-method.js';
export { ROS, type ROSOptions } from './ros.js';
export { OverSampler } from './sampler.js';
export { SMOTE, type SMOTEOptions } from './smote.js';
export type {
  Provenance,
  ResampleResult,
  SamplerFallback,
  SamplerOptions,
  SamplingStrategy,
} from './types.js';
export { UndefinedOnDataError } from './undefined-on-data.js';
