// The pixel-space baselines (pixel-smote, pixel-ros): the images over-sampled before a CE training, their
// agreement with imbalanced-learn, and their rows in `eos compare` with the cost columns.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test from 'ava';
import type { Dataset } from '../lib/data/types.js';
import { PIXEL_SMOTE_K, resamplePixels } from '../lib/harness/pixel-resample.js';
import { UndefinedOnDataError } from '../lib/resample/undefined-on-data.js';
import { freshOutDir, removeTemporaryFolders, tinyCompareArgs, tinyDataset } from './harness-fixtures.js';

const run = promisify(execFile);
const eos = fileURLToPath(new URL('../lib/cli/eos.js', import.meta.url));

test.after.always(removeTemporaryFolders);

interface PixelFixture {
  imblearn_version: string;
  shape: [number, number, number, number];
  images: number[];
  labels: number[];
  counts: Record<string, number>;
  neighbours: Record<string, { bases: number[]; neighbours: number[][] }>;
}

const FIXTURE: PixelFixture = JSON.parse(
  readFileSync(new URL('../../test/fixtures/imblearn/pixel-smote.json', import.meta.url), 'utf8'),
);

const fixtureDataset = (): Dataset => ({
  images: Uint8Array.from(FIXTURE.images),
  labels: Int32Array.from(FIXTURE.labels),
  shape: FIXTURE.shape,
  classes: 3,
});

/** 2-channel 3x3 images, class sizes 14, 8, 6, seeded pixels spanning 0..255. */
function smallImages(): Dataset {
  const sizes = [14, 8, 6];
  const n = sizes.reduce((a, b) => a + b, 0);
  const d = 2 * 3 * 3;
  const images = new Uint8Array(n * d);
  let state = 7;
  for (let i = 0; i < images.length; i++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    images[i] = state >>> 24;
  }
  const labels = Int32Array.from(sizes.flatMap((s, c) => new Array<number>(s).fill(c)));
  return { images, labels, shape: [n, 2, 3, 3], classes: 3 };
}

const countsOf = (labels: Int32Array, classes: number) => {
  const counts = new Array<number>(classes).fill(0);
  for (const l of labels) counts[l]++;
  return counts;
};

for (const method of ['smote', 'ros'] as const) {
  test(`pixel ${method}: every class up to the majority count, originals first and unchanged`, async (t) => {
    const data = smallImages();
    const [n, c, h, w] = data.shape;
    const d = c * h * w;
    const { train, provenance } = await resamplePixels(data, method, { seed: 3 });
    t.deepEqual(countsOf(train.labels, 3), [14, 14, 14]);
    t.deepEqual(train.shape, [42, c, h, w]);
    t.is(train.images.length, 42 * d);
    t.deepEqual(train.images.subarray(0, n * d), data.images);
    t.deepEqual(train.labels.subarray(0, n), data.labels);
    for (let i = 0; i < provenance.base.length; i++) {
      const label = train.labels[n + i];
      t.is(data.labels[provenance.base[i]], label, `synthetic ${i}: base of its class`);
      t.is(data.labels[provenance.partner[i]], label, `synthetic ${i}: partner of its class`);
    }
  });
}

test('pixel smote: each synthetic image lies on its segment, within the rounding (0.5 per pixel)', async (t) => {
  const data = smallImages();
  const [n, c, h, w] = data.shape;
  const d = c * h * w;
  const { train, provenance } = await resamplePixels(data, 'smote', { seed: 11 });
  const { base, partner, coefficient } = provenance;
  let offBase = 0;
  let worst = 0;
  for (let i = 0; i < base.length; i++) {
    const coef = coefficient[i];
    t.true(coef >= 0 && coef < 1, `coefficient ${coef}`);
    t.not(base[i], partner[i]);
    for (let j = 0; j < d; j++) {
      const a = data.images[base[i] * d + j];
      const b = data.images[partner[i] * d + j];
      const got = train.images[(n + i) * d + j];
      worst = Math.max(worst, Math.abs(got - (a + coef * (b - a))));
      if (got !== a) offBase++;
    }
  }
  t.true(worst <= 0.5, `largest distance to the segment ${worst}`);
  // Not copies: most pixels moved off the base (truncation instead of rounding would break the 0.5 bound).
  t.true(offBase > (base.length * d) / 2, `${offBase} pixels off the base`);
});

test('pixel ros: the added images are copies of images of their class', async (t) => {
  const data = smallImages();
  const [n, c, h, w] = data.shape;
  const d = c * h * w;
  const { train, provenance } = await resamplePixels(data, 'ros', { seed: 5 });
  for (let i = 0; i < provenance.base.length; i++) {
    const b = provenance.base[i];
    t.deepEqual(
      train.images.subarray((n + i) * d, (n + i + 1) * d),
      data.images.subarray(b * d, (b + 1) * d),
    );
  }
});

test('pixel resampling is seeded: the same seed gives the same images, another seed others', async (t) => {
  const data = smallImages();
  const a = await resamplePixels(data, 'smote', { seed: 1 });
  const b = await resamplePixels(data, 'smote', { seed: 1 });
  const other = await resamplePixels(data, 'smote', { seed: 2 });
  t.deepEqual(a.train.images, b.train.images);
  t.notDeepEqual(a.train.images, other.train.images);
});

test(`imblearn ${FIXTURE.imblearn_version}: pixel SMOTE counts and within-class neighbour sets match`, async (t) => {
  const data = fixtureDataset();
  const n = data.labels.length;
  const { train, provenance } = await resamplePixels(data, 'smote', { seed: 0 });
  t.deepEqual(Object.fromEntries(countsOf(train.labels, 3).map((v, k) => [String(k), v])), FIXTURE.counts);
  // imbalanced-learn's neighbour table of each over-sampled class: every synthetic image's partner is one of
  // its base's k = 5 nearest images within the class.
  const allowed = new Map<number, Set<number>>();
  for (const { bases, neighbours } of Object.values(FIXTURE.neighbours)) {
    bases.forEach((b, i) => {
      t.is(neighbours[i].length, PIXEL_SMOTE_K);
      allowed.set(b, new Set(neighbours[i]));
    });
  }
  t.is(provenance.base.length, train.labels.length - n);
  for (let i = 0; i < provenance.base.length; i++) {
    const set = allowed.get(provenance.base[i]);
    t.truthy(set, `base ${provenance.base[i]} is in an over-sampled class`);
    t.true(set!.has(provenance.partner[i]), `synthetic ${i}: partner ${provenance.partner[i]}`);
  }
  // And every table entry can be drawn: ours uses the same neighbour sets, not a subset.
  const used = new Set(Array.from(provenance.base, (b, i) => `${b}:${provenance.partner[i]}`));
  t.true(used.size > provenance.base.length / 2);
});

test('pixel smote on a class smaller than k + 1 fails as undefined on the data, naming the step', async (t) => {
  const data = smallImages();
  // Class 2 keeps 4 images: SMOTE with k = 5 needs 6.
  const keep = Array.from(data.labels.keys()).filter((i) => data.labels[i] !== 2 || i < 26);
  const d = 18;
  const small: Dataset = {
    ...data,
    images: Uint8Array.from(keep.flatMap((i) => [...data.images.subarray(i * d, (i + 1) * d)])),
    labels: Int32Array.from(keep.map((i) => data.labels[i])),
    shape: [keep.length, 2, 3, 3],
  };
  const err = await t.throwsAsync(resamplePixels(small, 'smote', { seed: 0 }));
  t.true(err instanceof UndefinedOnDataError, String(err));
  t.regex(err!.message, /^pixel-space smote of the training images: kNeighbors/);
});

test('eos compare --backbones ce,pixel-smote,pixel-ros: the pixel-space rows with their cost', async (t) => {
  const dataDir = await tinyDataset();
  const out = freshOutDir();
  const args = [
    eos,
    ...tinyCompareArgs(dataDir, out, {
      backbones: 'ce,pixel-smote,pixel-ros',
      samplers: 'none',
      more: ['--other-samplers', 'eos'],
    }),
  ];
  await run(process.execPath, args);
  const md = readFileSync(join(out, 'results.md'), 'utf8');
  t.notRegex(md, /PARTIAL/);
  t.regex(
    md,
    /\| method \| seeds \| balanced acc \| gm \| gmMacro \| macro F1 \| accuracy \| params phase 1 \| params phase 3 \| phase 1 s \| embed s \| phase 2 s \| phase 3 s \| total s \|/,
  );
  const row = (label: string) => {
    const line = md.split('\n').find((l) => l.replace(/\*\*/g, '').startsWith(`| ${label} |`));
    t.truthy(line, `row ${label}`);
    return line!
      .replace(/\*\*/g, '')
      .split('|')
      .slice(1, -1)
      .map((c) => c.trim());
  };
  const ce = row('ce (phase 1 only)');
  const smote = row('pixel-smote (phase 1 only)');
  const smoteEos = row('pixel-smote + eos');
  row('pixel-ros (phase 1 only)');
  row('pixel-ros + eos');
  // The same network everywhere: the phase-1 count is the CNN's, the head 64 x 4 weights + 4 biases.
  t.regex(ce[7], /^\d{1,3}(,\d{3})+$/);
  t.is(smote[7], ce[7]);
  t.is(smote[8], '–');
  t.is(smoteEos[7], ce[7]);
  t.is(smoteEos[8], '260');
  for (const cellText of [...smote.slice(9, 11), smote[13], ...smoteEos.slice(9, 14)])
    t.regex(cellText, /^\d+\.\d$/);
  t.regex(md, /GAN-based over-samplers \(BAGAN, DeepSMOTE\) are not measured/);

  // Phase 1 trained on the balanced images; the stored data (and the embeddings) are the imbalanced split.
  const p1 = JSON.parse(readFileSync(join(out, 'units', 'pixel-smote-seed0', 'phase1.json'), 'utf8'));
  const ceP1 = JSON.parse(readFileSync(join(out, 'units', 'ce-seed0', 'phase1.json'), 'utf8'));
  t.deepEqual(p1.data.classCounts, ceP1.data.classCounts);
  const majority = Math.max(...p1.data.classCounts);
  t.deepEqual(p1.pixelResample.classCounts, [majority, majority, majority, majority]);
  t.is(p1.pixelResample.method, 'smote');
  t.is(p1.pixelResample.kNeighbors, PIXEL_SMOTE_K);
  t.true(p1.seconds.pixelResample > 0);
  t.is(ceP1.pixelResample, null);
  t.is(p1.trainedParameters, ceP1.trainedParameters);
  t.is(ceP1.trainedParameters.toLocaleString('en-US'), ce[7]);
});
