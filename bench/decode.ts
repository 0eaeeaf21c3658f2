// npm run bench:decode: how fast an image folder loads (lib/data/folder-dataset.ts), 2 images in flight.
//  1. 10,000 28x28 grey PNGs (Fashion-MNIST training images), decoded at their own size;
//  2. 10,000 256x256 RGB JPEGs (Fashion-MNIST images upscaled and tinted), resized to 32x32.
// The folders are generated into a temporary folder first (not timed). Per case: images/s of a load without
// cache (header pass + decode), the two passes' seconds, the first load that writes the cache and the second
// that reads it, and the event loop's longest stall during each (the cache write is synchronous).
// Writes bench/out/decode.json.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import sharp from 'sharp';
import { loadFashionMnist } from '../lib/data/fashion-mnist.js';
import { loadFolderDataset } from '../lib/data/folder-dataset.js';
import { runPool } from '../lib/data/folder-pool.js';
import type { FolderOptions, FolderProgress } from '../lib/data/folder-types.js';

const THREADS = 2;
const IMAGES = 10_000;
const CLASSES = 10;

const root = mkdtempSync(join(tmpdir(), 'eos-bench-decode-'));
const { train } = await loadFashionMnist();

/** Writes IMAGES files into root/<name>/<class>/, generated on all cores (not part of the timing). */
async function generate(name: string, write: (i: number, path: string) => Promise<unknown>): Promise<string> {
  const dir = join(root, name);
  for (let c = 0; c < CLASSES; c++) mkdirSync(join(dir, `class${c}`), { recursive: true });
  await runPool(IMAGES, availableParallelism() * 2, (i) =>
    write(i, join(dir, `class${train.labels[i]}`, String(i).padStart(5, '0'))),
  );
  return dir;
}

const grey = (i: number) =>
  sharp(Buffer.from(train.images.subarray(i * 784, (i + 1) * 784)), {
    raw: { width: 28, height: 28, channels: 1 },
  });

const pngDir = await generate('png28', (i, path) => grey(i).toColourspace('b-w').png().toFile(`${path}.png`));
const jpegDir = await generate('jpeg256', (i, path) =>
  grey(i)
    .resize(256, 256)
    .toColourspace('srgb')
    .tint({ r: 40 + (i % 200), g: 90, b: 200 - (i % 150) })
    .jpeg({ quality: 90 })
    .toFile(`${path}.jpg`),
);

interface Timing {
  seconds: number;
  stages: Record<FolderProgress['stage'], number>;
  maxEventLoopStallMs: number;
  decoded: number;
}

async function timedLoad(dir: string, options: FolderOptions): Promise<Timing> {
  const start = performance.now();
  const stageEnd: Record<string, number> = {};
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  const r = await loadFolderDataset(dir, {
    ...options,
    threads: THREADS,
    onProgress: (p) => {
      if (p.done === p.total) stageEnd[p.stage] = performance.now();
    },
  });
  const seconds = (performance.now() - start) / 1000;
  loop.disable();
  const inspectEnd = stageEnd.inspect ?? start;
  return {
    seconds,
    stages: {
      inspect: (inspectEnd - start) / 1000,
      decode: ((stageEnd.decode ?? inspectEnd) - inspectEnd) / 1000,
    },
    maxEventLoopStallMs: loop.max / 1e6,
    decoded: r.folder.decoded,
  };
}

const cases = [
  { name: `${IMAGES} PNG 1x28x28, own size`, dir: pngDir, options: {} },
  { name: `${IMAGES} JPEG 3x256x256 -> 32x32`, dir: jpegDir, options: { imageSize: 32 } },
];
const results = [];
for (const [i, c] of cases.entries()) {
  const cold = await timedLoad(c.dir, { ...c.options, cacheDir: false });
  const cacheDir = join(root, `cache${i}`);
  const writing = await timedLoad(c.dir, { ...c.options, cacheDir });
  const cached = await timedLoad(c.dir, { ...c.options, cacheDir });
  results.push({ case: c.name, imagesPerSecond: IMAGES / cold.seconds, cold, writing, cached });
}
rmSync(root, { recursive: true, force: true });

const f = (x: number, digits = 2) => x.toFixed(digits);
console.log(
  `image folder loading, ${THREADS} images in flight; sharp ${sharp.versions.sharp}, libvips ${sharp.versions.vips}; ` +
    `${cpus()[0]?.model ?? 'unknown CPU'}, ${availableParallelism()} logical cores`,
);
console.log(
  '| case | images/s (no cache) | header pass s | decode s | first load + cache write s | cached load s | longest event-loop stall ms (no cache / writing / cached) |',
);
console.log('|---|---|---|---|---|---|---|');
for (const r of results) {
  console.log(
    `| ${r.case} | ${f(r.imagesPerSecond, 0)} | ${f(r.cold.stages.inspect)} | ${f(r.cold.stages.decode)} | ` +
      `${f(r.writing.seconds)} | ${f(r.cached.seconds, 3)} | ${f(r.cold.maxEventLoopStallMs, 1)} / ` +
      `${f(r.writing.maxEventLoopStallMs, 1)} / ${f(r.cached.maxEventLoopStallMs, 1)} |`,
  );
  if (r.cached.decoded !== 0)
    throw new Error(`${r.case}: the second cached load decoded ${r.cached.decoded} images`);
}
mkdirSync('bench/out', { recursive: true });
writeFileSync(
  'bench/out/decode.json',
  `${JSON.stringify({ threads: THREADS, sharp: sharp.versions, results }, null, 2)}\n`,
);
