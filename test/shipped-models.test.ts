// The models shipped in models/: each card (models/<name>.json) states what its model scores on the test set
// of its data set. The ONNX file (run by onnxruntime-node, as a Node service would) and the checkpoint (run
// by the native engine) must both reproduce the card, and agree with each other image by image.
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import test from 'ava';
import { loadDataset } from '../lib/data/dataset.js';
import type { ClassificationMetrics } from '../lib/metrics/classification.js';
import { ResNet } from '../lib/model/resnet.js';
import { packageRoot } from '../lib/native.js';
import { argmaxRows, scoreLogits } from '../lib/pipeline/evaluate.js';
import { Classifier } from '../lib/serve/classifier.js';

const models = resolve(packageRoot, 'models');
const METRICS = ['balancedAccuracy', 'gm', 'gmMacro', 'macroF1', 'accuracy'] as const;
// One test image of 10,000 moves balanced accuracy by 1e-4; rounding differences between onnxruntime, the
// native backends and CPUs may flip a handful of near-ties, no more.
const TOLERANCE = 1e-3;

interface ModelCard {
  onnx: string;
  checkpoint: string;
  dataset: 'fashion-mnist';
  test: Record<(typeof METRICS)[number], number>;
}

const cards = readdirSync(models).filter((f) => f.endsWith('.json'));

test('models/ ships at least one model with its card', (t) => {
  t.true(cards.length > 0);
});

for (const file of cards) {
  test.serial(`${file}: the ONNX model and the checkpoint reproduce the card's test metrics`, async (t) => {
    const card = JSON.parse(readFileSync(join(models, file), 'utf8')) as ModelCard;
    const { test: data } = await loadDataset(card.dataset);
    const [n] = data.shape;
    const imageSize = data.images.length / n;

    const classifier = await Classifier.load(join(models, card.onnx), { maxBatch: 500 });
    t.deepEqual(classifier.inputShape, data.shape.slice(1));
    const onnxLogits = new Float32Array(n * data.classes);
    for (let i = 0; i < n; i += 500) {
      const rows = Math.min(500, n - i);
      const logits = await classifier.logits(data.images.subarray(i * imageSize, (i + rows) * imageSize));
      onnxLogits.set(logits, i * data.classes);
    }
    await classifier.close();

    const model = ResNet.load(join(models, card.checkpoint));
    const { logits: nativeLogits } = await model.predict({ images: data.images, shape: data.shape });
    model.dispose();

    const check = (name: string, metrics: ClassificationMetrics) => {
      for (const m of METRICS) {
        t.true(
          Math.abs(metrics[m] - card.test[m]) <= TOLERANCE,
          `${name} ${m} ${metrics[m]} vs the card's ${card.test[m]}`,
        );
      }
    };
    check('onnxruntime', scoreLogits(onnxLogits, data.labels, data.classes));
    check('native', scoreLogits(nativeLogits!, data.labels, data.classes));
    const a = argmaxRows(onnxLogits, data.classes);
    const b = argmaxRows(nativeLogits!, data.classes);
    const differ = a.reduce((count, label, i) => count + (label === b[i] ? 0 : 1), 0);
    t.true(differ <= 10, `${differ} of ${n} test images labelled differently by onnxruntime and native`);
  });
}
