// Scoring of logits against labels.
import { type ClassificationMetrics, classificationMetrics } from '../metrics/classification.js';

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
