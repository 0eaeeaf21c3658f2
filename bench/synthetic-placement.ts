// Where each sampler's synthetic rows land, on the embeddings of a finished `eos compare` backbone:
//   node dist/bench/synthetic-placement.js bench/results/fmnist-exp100-ce-resnet32-200ep [backbone-seed id]
// For every sampler, the share of synthetic rows whose nearest REAL training embedding belongs to another
// class, overall and per class. A synthetic row of class c that sits nearer to another class's rows than to
// any row of c carries the label c into that class's region. EOS draws its coefficient from [0, 1) towards an
// enemy, so past the midpoint the enemy (or another row of its class) is nearer: about half of its rows by
// construction; bounding the coefficient at 0.5 keeps them on the minority side.
import { join } from 'node:path';
import { readComparisonSettings } from '../lib/harness/index.js';
import type { ComparisonSettings, MethodKey } from '../lib/harness/plan.js';
import { COMPARISON_METHOD_TABLE, makePlan, unitConfig } from '../lib/harness/plan.js';
import { ResNet } from '../lib/model/resnet.js';
import { EMBEDDING_SIZE } from '../lib/model/spec.js';
import { prepareData } from '../lib/pipeline/prepare-data.js';
import { resampleWith } from '../lib/pipeline/samplers.js';
import { kNearest } from '../lib/resample/knn.js';

const SAMPLERS: MethodKey[] = [
  'ros',
  'smote',
  'eos',
  'eos-half',
  'eos-k5',
  'eos-k20',
  'eos-reference-script-bug',
];

const [dir, unitId] = process.argv.slice(2);
if (!dir) {
  console.error(
    'usage: node dist/bench/synthetic-placement.js <eos compare --out folder> [unit id, e.g. ce-seed0]',
  );
  process.exit(2);
}
let settings: ComparisonSettings;
try {
  settings = readComparisonSettings(dir);
} catch (err) {
  console.error((err as Error).message);
  process.exit(2);
}
const plan = makePlan(settings);
const backbone = unitId ? plan.backbones.find((b) => b.unit.id === unitId) : plan.backbones[0];
if (!backbone) {
  console.error(`${unitId}: no such backbone in ${dir} (${plan.backbones.map((b) => b.unit.id).join(', ')})`);
  process.exit(2);
}
const config = unitConfig(settings, backbone.unit);
const data = await prepareData(config);
const model = ResNet.load(join(config.outDir, 'phase1-model.safetensors'), { threads: config.threads });
const x = await model.embed({ images: data.train.images, shape: data.train.shape });
model.dispose();
const y = data.train.labels;
const n = y.length;
const classes = data.classes;
const d = EMBEDDING_SIZE;

console.log(
  `${dir}, ${backbone.unit.id}: synthetic rows whose nearest real training embedding is of another class (%)`,
);
console.log(`| sampler | all | ${Array.from({ length: classes }, (_, c) => `class ${c}`).join(' | ')} |`);
console.log(`|---|---|${'---|'.repeat(classes)}`);
for (const sampler of SAMPLERS) {
  // As fitMethod calls it (lib/pipeline/fit-method.ts): the same rows the comparison's heads were fitted on.
  const r = await resampleWith(COMPARISON_METHOD_TABLE[sampler].choice, x, y, d, {
    seed: config.seed,
    kNeighbors: config.kNeighbors,
    threads: config.threads || undefined,
  });
  const synthetic = r.x.subarray(n * d);
  const labels = r.y.subarray(n);
  const { indices } = await kNearest(synthetic, d, 1, { base: x, threads: config.threads || undefined });
  const outside = new Array<number>(classes).fill(0);
  const made = new Array<number>(classes).fill(0);
  for (let i = 0; i < labels.length; i++) {
    made[labels[i]]++;
    if (y[indices[i]] !== labels[i]) outside[labels[i]]++;
  }
  const pct = (a: number, b: number) => (b === 0 ? '–' : ((100 * a) / b).toFixed(1));
  const total = pct(
    outside.reduce((a, b) => a + b, 0),
    made.reduce((a, b) => a + b, 0),
  );
  console.log(`| ${sampler} | ${total} | ${outside.map((o, c) => pct(o, made[c])).join(' | ')} |`);
}
