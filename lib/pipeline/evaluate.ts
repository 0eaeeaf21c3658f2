// Scoring: logits against labels, and the generalization gap of embeddings against the test embeddings.
import { type ClassificationMetrics, classificationMetrics } from '../metrics/classification.js';
import { type GeneralizationGap, generalizationGap } from '../metrics/generalization-gap.js';

export function argmaxRows(logits: Float32Array, classes: number): Int32Array {
  const n = logits.length / classes;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (logits[i * classes + c] > logits[i * classes + best]) best = c;
    out[i] = best;
  }
  return out;
}

export function scoreLogits(
  logits: Float32Array,
  labels: Int32Array,
  classes: number,
): ClassificationMetrics {
  return classificationMetrics(labels, argmaxRows(logits, classes), classes);
}

interface LabelledEmbeddings {
  embeddings: Float32Array;
  labels: Int32Array;
}

/** How far the test embeddings fall from the training rows (real, or real and synthetic), per class. */
export function embeddingGap(
  train: LabelledEmbeddings,
  test: LabelledEmbeddings,
  classes: number,
): GeneralizationGap {
  return generalizationGap(train, test, { dim: train.embeddings.length / train.labels.length, classes });
}
