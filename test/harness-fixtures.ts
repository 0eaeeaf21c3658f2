// Shared by the harness tests: a tiny learnable image data set written as NPY files, comparison settings on
// it, and a small XML well-formedness check for the HTML report and its SVG charts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeNpy } from '../lib/data/npy-write.js';
import type { ComparisonSettings } from '../lib/harness/index.js';
import { PRESETS } from '../lib/pipeline/config.js';

export const CLASSES = 4;

const created: string[] = [];

/** A new temporary folder, removed by removeTemporaryFolders. */
function temporaryFolder(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  created.push(dir);
  return dir;
}

export function removeTemporaryFolders(): void {
  for (const dir of created.splice(0)) rmSync(dir, { recursive: true, force: true });
}
const SIDE = 8;

/** 8x8 one-channel images whose class sets the brightness of one quadrant, plus seeded noise. */
function images(perClass: number, salt: number): { images: Uint8Array; labels: Uint8Array } {
  const n = perClass * CLASSES;
  const pixels = new Uint8Array(n * SIDE * SIDE);
  const labels = new Uint8Array(n);
  let state = 12345 + salt;
  const noise = () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return (state >>> 16) % 60;
  };
  for (let i = 0; i < n; i++) {
    const c = i % CLASSES;
    labels[i] = c;
    for (let y = 0; y < SIDE; y++)
      for (let x = 0; x < SIDE; x++) {
        const quadrant = (y < SIDE / 2 ? 0 : 2) + (x < SIDE / 2 ? 0 : 1);
        pixels[i * SIDE * SIDE + y * SIDE + x] = (quadrant === c ? 170 : 30) + noise();
      }
  }
  return { images: pixels, labels };
}

/** A folder holding train_images.npy ... test_labels.npy: 40 training and 12 test images per class. */
export async function tinyDataset(): Promise<string> {
  const dir = temporaryFolder('eos-harness-data-');
  for (const [part, perClass, salt] of [
    ['train', 40, 1],
    ['test', 12, 2],
  ] as const) {
    const d = images(perClass, salt);
    await writeNpy(join(dir, `${part}_images.npy`), d.images, [d.labels.length, SIDE, SIDE]);
    await writeNpy(join(dir, `${part}_labels.npy`), d.labels, [d.labels.length]);
  }
  return dir;
}

/**
 * `eos compare` on the tiny data set: ResNet-8, batch 16, 2 phase-3 epochs, 32 training images per class at most,
 * one thread; `plan` names the backbones, samplers and anything else the test varies.
 */
export function tinyCompareArgs(
  dataDir: string,
  out: string,
  plan: { epochs?: number; seeds?: number; backbones: string; samplers: string; more?: string[] },
): string[] {
  return [
    'compare',
    ...['--dataset', 'npy', '--data-dir', dataDir, '--ratio', '4', '--depth', '8'],
    ...['--epochs', String(plan.epochs ?? 1), '--batch', '16', '--head-epochs', '2'],
    ...['--seeds', String(plan.seeds ?? 1), '--backbones', plan.backbones, '--samplers', plan.samplers],
    ...(plan.more ?? []),
    ...['--max-train-per-class', '32', '--threads', '1', '--out', out],
  ];
}

export function freshOutDir(): string {
  return temporaryFolder('eos-harness-out-');
}

/** 2 backbones (CE with 3 samplers, focal with eos) x 2 seeds on the tiny data set: 12 units, 4 trainings. */
export function tinySettings(dataDir: string, outDir: string, epochs = 3): ComparisonSettings {
  const quick = structuredClone(PRESETS.quick);
  return {
    base: {
      ...quick,
      dataset: 'npy',
      dataDir,
      imbalance: { type: 'exp', ratio: 4, seed: 0 },
      depth: 8,
      threads: 1,
      phase1: { ...quick.phase1, epochs, batch: 16, warmupEpochs: 0 },
      phase3: { ...quick.phase3, epochs: 2, batch: 16 },
      outDir,
    },
    seeds: 2,
    backbones: ['ce', 'focal'],
    samplers: ['none', 'smote', 'eos'],
    fullBackbones: ['ce'],
    otherSamplers: ['eos'],
    mainSampler: 'eos',
    limits: { maxTrainPerClass: 32, maxTestPerClass: 10 },
    outDir,
  };
}

/**
 * Throws unless `text` is well-formed XML (after an optional doctype): tags nest and close, attributes are
 * quoted, '&' starts an entity, '<' appears only in markup. Enough to know a browser or an XML tool reads it.
 */
export function assertWellFormedXml(text: string): void {
  const body = text.replace(/^\s*<!DOCTYPE[^>]*>/i, '');
  const token = /<!--[\s\S]*?-->|<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+\s*=\s*"[^"<]*")*)\s*(\/?)>|<|[^<]+/g;
  const stack: string[] = [];
  let roots = 0;
  for (const m of body.matchAll(token)) {
    const [whole, closing, name, attributes, selfClosing] = m;
    if (whole === '<')
      throw new Error(`malformed markup at offset ${m.index}: ${body.slice(m.index, m.index + 40)}`);
    if (whole.startsWith('<!--')) continue;
    if (name === undefined) {
      const bad = whole.match(/&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/);
      if (bad) throw new Error(`bare '&' at offset ${(m.index ?? 0) + (bad.index ?? 0)}`);
      if (stack.length === 0 && whole.trim().length > 0)
        throw new Error(`text outside the root: ${whole.slice(0, 40)}`);
      continue;
    }
    const names = [...(attributes ?? '').matchAll(/([\w:.-]+)\s*=/g)].map((a) => a[1]);
    if (new Set(names).size !== names.length) throw new Error(`<${name}> repeats an attribute`);
    if (closing) {
      const open = stack.pop();
      if (open !== name) throw new Error(`</${name}> closes <${open ?? 'nothing'}>`);
    } else if (!selfClosing) {
      if (stack.length === 0) roots++;
      stack.push(name);
    } else if (stack.length === 0) roots++;
  }
  if (stack.length > 0) throw new Error(`unclosed <${stack.join('> <')}>`);
  if (roots !== 1) throw new Error(`expected one root element, found ${roots}`);
}

/** The <svg>...</svg> elements of a page. */
export function svgElements(html: string): string[] {
  return [...html.matchAll(/<svg[\s\S]*?<\/svg>/g)].map((m) => m[0]);
}
