// The comparison report from hand-made unit results: statistics, tables, SVG, partial results.
import test from 'ava';
import { pointsStat } from '../lib/harness/format.js';
import {
  aggregate,
  type ComparisonReport,
  makePlan,
  pairedDifference,
  renderHtml,
  renderMarkdown,
  seedStat,
  unitConfig,
} from '../lib/harness/index.js';
import { tCritical5 } from '../lib/harness/statistics.js';
import { niceTicks } from '../lib/harness/svg-charts.js';
import { backboneKey, samplerKey, type UnitResult } from '../lib/harness/unit-results.js';
import { classificationMetrics } from '../lib/metrics/classification.js';
import type { GeneralizationGap } from '../lib/metrics/generalization-gap.js';
import { assertWellFormedXml, CLASSES, svgElements, tinySettings } from './harness-fixtures.js';

const settings = tinySettings('/data', '/out');
const plan = makePlan(settings);

/** Metrics whose headline numbers are `v` (the per-class accuracies are v + class / 100). */
function metrics(v: number) {
  const base = classificationMetrics(new Int32Array([0, 1, 2, 3]), new Int32Array([0, 1, 2, 3]), CLASSES);
  return {
    ...base,
    balancedAccuracy: v,
    gm: v - 0.1,
    gmMacro: v - 0.05,
    macroF1: v - 0.02,
    accuracy: v + 0.01,
    perClassAccuracy: Array.from({ length: CLASSES }, (_, k) => v + k / 100),
  };
}

/** Class k's test embeddings sit testNearest * (1 + k) from the training set, whose rows sit trainNearest apart. */
function gap(testNearest: number, trainNearest: number): GeneralizationGap {
  const perClass = Array.from({ length: CLASSES }, (_, k) => ({
    trainCount: 10,
    testCount: 10,
    testNearest: testNearest * (1 + k),
    trainNearest,
    distanceRatio: (testNearest * (1 + k)) / trainNearest,
    topFeatures: [0],
    featureGap: testNearest / 10,
  }));
  return {
    perClass,
    meanDistanceRatio: perClass.reduce((a, c) => a + c.distanceRatio, 0) / CLASSES,
    meanFeatureGap: testNearest / 10,
  };
}

/** Stored results for the units named, with balanced accuracy `bac(unit id)`. */
function results(ids: string[], bac: (id: string) => number): Map<string, UnitResult> {
  const out = new Map<string, UnitResult>();
  for (const u of plan.units.filter((u) => ids.includes(u.id))) {
    const config = unitConfig(settings, u);
    if (u.kind === 'phase1') {
      out.set(u.id, {
        kind: 'phase1',
        backbone: u.backbone,
        seedIndex: u.seedIndex,
        key: backboneKey(config, settings.limits),
        backend: 'ref',
        threads: 1,
        data: { train: 72, test: 40, classCounts: [32, 20, 12, 8], classNames: ['a', 'b', 'c', 'd'] },
        history: [
          {
            epoch: 0,
            lr: 0.1,
            loss: 2 + u.seedIndex,
            accuracy: 0.3,
            seconds: 10 + u.seedIndex,
            imagesPerSecond: 7,
          },
          { epoch: 1, lr: 0.1, loss: 1, accuracy: 0.6, seconds: 10, imagesPerSecond: 7 },
        ],
        resumedFrom: null,
        seconds: { phase1: 20 + u.seedIndex, embed: 1, gap: 0.5 },
        test: metrics(bac(u.id)),
        gap: gap(1, 0.5),
        finishedAt: '2025-01-01T00:00:00.000Z',
      });
    } else {
      out.set(u.id, {
        kind: 'phase23',
        backbone: u.backbone,
        seedIndex: u.seedIndex,
        sampler: u.sampler,
        key: samplerKey(config, settings.limits, u.sampler),
        synthetic: 40,
        fallbacks: [],
        seconds: { resample: 0.5, phase3: 1.5 },
        test: metrics(bac(u.id)),
        finalLoss: 0.3,
        // Raw "after" gap: synthetic rows shrink the leave-one-out spread from 0.5 to 0.1.
        gapAfter: u.sampler === 'eos' ? gap(0.5, 0.1) : null,
        finishedAt: '2025-01-01T00:00:00.000Z',
      });
    }
  }
  return out;
}

const context = {
  command: 'eos compare --seeds 2',
  machine: { os: 'Linux', cpu: 'test cpu', cpus: 2, memoryGiB: 8, node: 'v20', addon: 'ref' },
  now: new Date('2025-01-02T00:00:00Z'),
  wallSeconds: 125,
  sessions: 2,
  failures: [],
};

// CE + eos scores 0.8 and 0.9 over the two seeds, CE + smote 0.6 and 0.85; everything else 0.5 and 0.6
// (phase 1) or 0.6 and 0.7.
const bac = (id: string) => {
  const seed = id.includes('seed1') ? 0.1 : 0;
  if (id.startsWith('ce') && id.endsWith('+eos')) return 0.8 + seed;
  if (id.startsWith('ce') && id.endsWith('+smote')) return seed ? 0.85 : 0.6;
  return (id.includes('+') ? 0.6 : 0.5) + seed;
};

function fullReport(): ComparisonReport {
  return aggregate(
    plan,
    results(
      plan.units.map((u) => u.id),
      bac,
    ),
    context,
  );
}

test('seedStat: mean, sample standard deviation (n - 1), non-finite values left out', (t) => {
  const s = seedStat([1, 2, 3, 4]);
  t.is(s.mean, 2.5);
  t.is(s.std, Math.sqrt(5 / 3));
  t.is(s.n, 4);
  const partial = seedStat([2, Number.NaN, null, 4]);
  t.deepEqual([partial.mean, partial.n, partial.values], [3, 2, [2, null, null, 4]]);
  t.is(partial.std, Math.SQRT2);
  t.deepEqual(seedStat([0.7]), { mean: 0.7, std: null, n: 1, values: [0.7] });
  t.deepEqual(seedStat([]), { mean: null, std: null, n: 0, values: [] });
});

test('each method row holds the mean and spread over seeds, and the best methods are ranked', (t) => {
  const r = fullReport();
  t.false(r.partial);
  t.deepEqual(
    r.rows.map((row) => row.id),
    ['ce', 'ce+none', 'ce+smote', 'ce+eos', 'focal', 'focal+eos'],
  );
  const eos = r.rows.find((row) => row.id === 'ce+eos')!;
  t.is(eos.seeds, 2);
  t.true(Math.abs(eos.metrics.balancedAccuracy.mean! - 0.85) < 1e-12);
  t.true(Math.abs(eos.metrics.balancedAccuracy.std! - Math.sqrt(0.005)) < 1e-12);
  t.true(Math.abs(eos.metrics.gm.mean! - 0.75) < 1e-12);
  t.true(Math.abs(eos.perClassAccuracy[3]! - 0.88) < 1e-12);
  // Phase-1 time is the backbone's (seeds took 20 and 21 s), phase 2 and 3 the sampler's own.
  t.is(eos.seconds.phase1.mean, 20.5);
  t.is(eos.seconds.phase2?.mean, 0.5);
  t.is(r.rows.find((row) => row.id === 'ce')!.seconds.phase2, null);
  t.is(r.best[0], 'ce+eos');
  t.true(r.best.includes('ce'), 'the CE baseline is always among the per-class columns');
  // Gap before (ratio 2 (1 + k)) and after (1 + k: the test distance halves, over the REAL rows' spread 0.5,
  // not the raw ratio 5 (1 + k) over the synthetic rows' spread), for both backbones with the main sampler.
  t.deepEqual(
    r.gap.map((g) => [g.backbone, g.seeds]),
    [
      ['ce', 2],
      ['focal', 2],
    ],
  );
  t.deepEqual(r.gap[0].perClass[3].distanceRatio, { before: 8, after: 4 });
  t.deepEqual(r.gap[0].perClass[3].testNearest, { before: 4, after: 2 });
  t.deepEqual(r.gap[0].mean.testNearest, { before: 2.5, after: 1.25 });
  t.deepEqual(r.gap[0].mean.distanceRatio, { before: 5, after: 2.5 });
  t.is(r.curves.length, 4);
  t.deepEqual(r.curves[1].loss, [3, 1]);
});

test('the Markdown states the command, machine, schedule and wall time and has a row per method', (t) => {
  const md = renderMarkdown(fullReport());
  t.regex(md, /Command: `eos compare --seeds 2`/);
  t.regex(md, /Machine: Linux; 2 x test cpu/);
  t.regex(md, /wall time 2 min 05 s over 2 sessions/);
  t.regex(md, /## Schedule\n\n- Data: npy, exp imbalance ratio 4/);
  t.regex(md, /Phase 1 \(the same for every backbone\): ResNet-8, 3 epochs/);
  t.regex(md, /\| \*\*ce \+ eos\*\* \| \*\*2\/2\*\* \| \*\*85\.00 ± 7\.07\*\* \|/);
  t.regex(md, /\| focal \(phase 1 only\) \| 2\/2 \| 55\.00 ± 7\.07 \|/);
  t.regex(md, /\| 3 d \(n=8\) \| 4\.000 \| 2\.000 \| 8\.000 \| 4\.000 \|/);
  t.notRegex(md, /PARTIAL/);
});

test('the HTML page is well-formed, offline, and its SVG charts are valid', (t) => {
  const html = renderHtml(fullReport());
  t.notThrows(() => assertWellFormedXml(html));
  t.notRegex(html, /<script|https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
  const svgs = svgElements(html);
  t.is(svgs.length, 5, 'per-class accuracy, two gap charts, a training-curve chart per backbone');
  for (const svg of svgs) {
    t.notThrows(() => assertWellFormedXml(svg));
    t.regex(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    t.notRegex(svg, /NaN|undefined|Infinity/);
  }
  t.regex(html, /<td>ce \+ eos<\/td><td>2\/2<\/td><td>85\.00 ± 7\.07<\/td>/);
  // Bars: per class one per best method (5 methods x 4 classes); polylines: one per seed.
  t.is((svgs[0].match(/<rect x=/g) ?? []).length, 1 + 5 * 4);
  t.is((svgs[3].match(/<polyline/g) ?? []).length, 2);
  t.regex(svgs[4], /Phase-1 training loss, focal/);
});

test('the main sampler is compared seed by seed with every other method', (t) => {
  const r = fullReport();
  t.deepEqual(
    r.paired.map((p) => `${p.mainId} vs ${p.otherId}`),
    [
      'ce+eos vs ce',
      'ce+eos vs ce+none',
      'ce+eos vs ce+smote',
      'ce+eos vs focal',
      'ce+eos vs focal+eos',
      'focal+eos vs focal',
    ],
    'on the full backbone against every row; elsewhere against its own phase-1-only row',
  );
  const vsSmote = r.paired[2].comparison;
  t.deepEqual([vsSmote.difference.n, vsSmote.wins], [2, 2]);
  t.true(Math.abs(vsSmote.difference.mean! - 0.125) < 1e-12);
  t.false(vsSmote.significant, 't = 1.67 with 1 degree of freedom is far from 12.71');
  const vsPhase1 = r.paired[0].comparison;
  t.true(Math.abs(vsPhase1.difference.mean! - 0.3) < 1e-12);
  t.true(vsPhase1.significant, 'the same +30 points on both seeds: no spread at all');
  const md = renderMarkdown(r);
  t.regex(md, /## eos against each method, seed by seed/);
  t.regex(md, /\| ce \+ eos \| ce \+ smote \| 2 \| \+12\.50 ± 10\.61 \| 2\/2 seeds \| 1\.67 \| no \|/);
  t.regex(
    md,
    /\| ce \+ eos \| ce \(phase 1 only\) \| 2 \| \+30\.00 ± 0\.00 \| 2\/2 seeds \| ∞ \| yes, better \|/,
  );
  const partial = aggregate(plan, results(['ce-seed0', 'ce-seed0+eos', 'ce-seed1'], bac), context);
  t.deepEqual(partial.paired[0].comparison.difference.n, 1);
  // Pairs are matched by seed index: eos has seed 1 only, phase 1 both seeds -> one pair, seed 1's.
  const seed1 = aggregate(plan, results(['ce-seed0', 'ce-seed1', 'ce-seed1+eos'], bac), context);
  t.deepEqual(
    seed1.paired[0].comparison.difference.values.map((v) => v && Math.round(v * 100)),
    [null, 30],
  );
  t.regex(
    renderMarkdown(partial),
    /\| ce \+ eos \| ce \(phase 1 only\) \| 1 \| \+30\.00 \| 1\/1 seeds \| – \| one seed: no test \|/,
  );
});

test('pairedDifference: per-seed differences, wins, and the paired t-test at 5%', (t) => {
  const noisy = pairedDifference([0.9, 0.8, 0.85], [0.8, 0.78, 0.86]);
  t.is(noisy.difference.n, 3);
  t.is(noisy.wins, 2);
  const mean = (0.1 + 0.02 - 0.01) / 3;
  t.true(Math.abs(noisy.difference.mean! - mean) < 1e-12);
  t.true(Math.abs(noisy.t! - mean / (noisy.difference.std! / Math.sqrt(3))) < 1e-9);
  t.false(noisy.significant);
  const clear = pairedDifference([0.9, 0.91, 0.89], [0.8, 0.8, 0.8]);
  t.true(clear.t! > 4.303);
  t.true(clear.significant);
  const worse = pairedDifference([0.7, 0.71, 0.69, 0.7], [0.8, 0.8, 0.81, 0.8]);
  t.true(worse.significant);
  t.true(worse.difference.mean! < 0);
  t.is(worse.wins, 0);
  // Seeds where either side is missing are left out of the pairs, and the differences stay in seed order.
  const sparse = pairedDifference([0.9, null, 0.8], [0.8, 0.7, null]);
  t.deepEqual([sparse.difference.n, sparse.t, sparse.significant], [1, null, null]);
  t.is(sparse.difference.values[1], null);
  t.true(Math.abs(sparse.difference.values[0]! - 0.1) < 1e-12);
  // The degrees of freedom are n - 1: t = 3.5 passes 3.182 (df 3) but not 4.303 (df 2); t = 5 with 2 pairs
  // is below 12.706 (df 1); with 40 pairs the df-30 value 2.042 applies.
  const withT = (n: number, t: number) => {
    // n differences with mean m and sd 1: m = t / sqrt(n).
    const m = t / Math.sqrt(n);
    const d = Array.from({ length: n }, (_, i) => (i % 2 === 0 ? 1 : -1) * Math.sqrt((n - 1) / n));
    if (n % 2 === 1) d[n - 1] = 0;
    const mean = d.reduce((x, y) => x + y, 0) / n;
    const sd = Math.sqrt(d.reduce((x, y) => x + (y - mean) ** 2, 0) / (n - 1));
    return pairedDifference(
      d.map((v) => m + (v - mean) / sd),
      d.map(() => 0),
    );
  };
  t.true(Math.abs(withT(3, 3.5).t! - 3.5) < 1e-9);
  t.false(withT(3, 3.5).significant);
  t.true(withT(4, 3.5).significant);
  t.false(withT(2, 5).significant);
  t.true(withT(40, 2.1).significant);
  t.false(withT(40, 2.0).significant);
  t.is(tCritical5(2), 4.303);
  t.is(tCritical5(100), 2.042);
  t.throws(() => tCritical5(0), { message: /df must be an integer >= 1/ });
});

test('differences print in signed points, without a negative zero', (t) => {
  t.is(pointsStat(seedStat([0.0125, 0.0125])), '+1.25 ± 0.00');
  t.is(pointsStat(seedStat([-0.02])), '-2.00');
  t.is(pointsStat(seedStat([-1e-9])), '0.00');
  t.is(pointsStat(seedStat([])), '–');
});

test('the well-formedness check catches broken markup', (t) => {
  t.throws(() => assertWellFormedXml('<svg><g></svg>'));
  t.throws(() => assertWellFormedXml('<svg><text>a & b</text></svg>'));
  t.throws(() => assertWellFormedXml('<svg width=3></svg>'));
});

test('partial results render, marked as partial, with the seeds finished so far', (t) => {
  const ids = ['ce-seed0', 'ce-seed0+none', 'ce-seed0+eos', 'ce-seed1'];
  const r = aggregate(plan, results(ids, bac), context);
  t.true(r.partial);
  t.deepEqual(r.units, { finished: 4, settled: 0, total: 12, trainings: { finished: 2, total: 4 } });
  const md = renderMarkdown(r);
  t.regex(md, /PARTIAL RESULTS: 4 of 12 units finished \(2 of 4 phase-1 trainings\)/);
  t.regex(md, /\| ce \+ none \| 1\/2 \| 60\.00 \|/);
  t.regex(md, /\| ce \+ smote \| 0\/2 \| – \|/);
  // Only rows over the most seeds are ranked: ce + eos scores more on one seed but is not bold, nor "best".
  t.regex(md, /\| \*\*ce \(phase 1 only\)\*\* \| \*\*2\/2\*\* \| \*\*55\.00 ± 7\.07\*\* \|/);
  t.regex(md, /\| ce \+ eos \| 1\/2 \| 80\.00 \|/);
  t.deepEqual(r.best, ['ce']);
  const html = renderHtml(r);
  t.notThrows(() => assertWellFormedXml(html));
  t.regex(html, /<p class="partial">PARTIAL RESULTS/);
  const empty = aggregate(plan, new Map(), context);
  t.notThrows(() => assertWellFormedXml(renderHtml(empty)));
  t.regex(renderMarkdown(empty), /0 of 12 units finished/);
});

test('axis ticks are round numbers that frame the data', (t) => {
  t.deepEqual(niceTicks(0, 18.2), [0, 5, 10, 15, 20]);
  t.deepEqual(niceTicks(0, 100), [0, 20, 40, 60, 80, 100]);
  t.deepEqual(niceTicks(0.93, 1.41), [0.9, 1, 1.1, 1.2, 1.3, 1.4, 1.5]);
  t.deepEqual(niceTicks(3, 3), [3]);
});

/** A session record on a machine whose CPU is `cpu`, running from `started` to `updated`. */
const session = (cpu: string, started: string, updated: string) => ({
  command: 'eos compare --seeds 2',
  machine: { ...context.machine, cpu },
  started,
  updated,
});

test('units run on two machines: the report names both and says which ran each row', (t) => {
  const stored = results(
    plan.units.map((u) => u.id),
    bac,
  );
  // Seed 1 of every unit ran on a slower machine, recorded by the unit itself.
  for (const [id, r] of stored) if (id.includes('seed1')) stored.set(id, { ...r, machine: 'slow box' });
  const r = aggregate(plan, stored, context);
  t.deepEqual(
    r.machines.map((m) => m.units),
    [6, 6],
  );
  t.is(r.machines[1].label, 'slow box');
  const md = renderMarkdown(r);
  t.regex(
    md,
    /Machines that ran the units \(seconds compare only between rows of one machine[^)]*\): M1 \(6 units\): unknown machine\. M2 \(6 units\): slow box\. Backbones trained with ref/,
  );
  t.notRegex(md, /^Machine: /m);
  t.regex(md, /\| total s \| machine \|/);
  t.regex(md, /\| ce \+ smote \| 2\/2 \|.*\| M1, M2 \|$/m);
  t.notThrows(() => assertWellFormedXml(renderHtml(r)));
  // One seed only: the rows of seed 0 ran on one machine.
  const seed0 = aggregate(plan, new Map([...stored].filter(([id]) => !id.includes('seed1'))), context);
  t.is(seed0.machines.length, 1);
  t.regex(renderMarkdown(seed0), /^Machine: Linux; 2 x test cpu/m);
  t.notRegex(renderMarkdown(seed0), /\| machine \|/);
});

test('a unit stored without its machine takes the machine of the session running when it finished', (t) => {
  const stored = results(
    plan.units.map((u) => u.id),
    bac,
  );
  for (const [id, r] of stored)
    stored.set(id, {
      ...r,
      finishedAt: id.includes('seed1') ? '2025-01-01T12:00:00.000Z' : '2025-01-01T01:00:00.000Z',
    });
  const sessionList = [
    session('zen4', '2025-01-01T00:00:00.000Z', '2025-01-01T02:00:00.000Z'),
    // Killed after storing its last unit, before touching its log: the last session started still counts.
    session('zen3', '2025-01-01T11:00:00.000Z', '2025-01-01T11:30:00.000Z'),
  ];
  const r = aggregate(plan, stored, { ...context, sessionList });
  t.deepEqual(
    r.machines.map((m) => [m.label.replace(/;.*/, ''), m.units]),
    [
      ['2 x zen4', 6],
      ['2 x zen3', 6],
    ],
  );
  const md = renderMarkdown({ ...r, sessionList } as ComparisonReport);
  t.regex(md, /Session 1: whole plan \(M1\), /);
  t.regex(md, /Session 2: whole plan \(M2\), /);
  t.regex(md, /\| ce \(phase 1 only\) \| 2\/2 \|.*\| M1, M2 \|$/m);
  // Two sessions of different machines running at once (shards): that unit's machine is unknown.
  const overlapping = aggregate(plan, stored, {
    ...context,
    sessionList: [sessionList[0], session('zen3', '2025-01-01T00:30:00.000Z', '2025-01-01T12:30:00.000Z')],
  });
  t.deepEqual(
    overlapping.machines.map((m) => [m.label.replace(/;.*/, ''), m.units]),
    [
      ['unknown machine', 6],
      ['2 x zen3', 6],
    ],
  );
});
