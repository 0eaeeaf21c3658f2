// Evaluation: classification metrics and the per-class generalization gap of embeddings.
export { type ClassificationMetrics, classificationMetrics } from './classification.js';
export {
  type ClassGap,
  type GapInput,
  type GeneralizationGap,
  type GeneralizationGapOptions,
  generalizationGap,
} from './generalization-gap.js';
export { recallAtK } from './knn-recall.js';
