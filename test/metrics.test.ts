// Classification metrics against scikit-learn 1.2 / imbalanced-learn 0.10 on committed cases
// (test/fixtures/metrics/make_fixtures.py wrote cases.json).
import { readFileSync } from 'node:fs';
import test from 'ava';
import { classificationMetrics } from '../lib/metrics/classification.js';

interface Case {
  name: string;
  classes: number;
  y_true: number[];
  y_pred: number[];
  expected: Record<string, number | number[] | number[][]>;
}

const fixture = JSON.parse(
  readFileSync(new URL('../../test/fixtures/metrics/cases.json', import.meta.url), 'utf8'),
) as { generator: string; cases: Case[] };

const TOLERANCE = 1e-12;

function close(actual: number, expected: number): boolean {
  return Math.abs(actual - expected) <= TOLERANCE;
}

test('the fixture covers a never-predicted class and a class absent from y_true', (t) => {
  const names = fixture.cases.map((c) => c.name);
  t.true(names.includes('class never predicted'));
  t.true(names.includes('class absent from y_true'));
  t.true(fixture.cases.length >= 8);
});

for (const c of fixture.cases) {
  test(`equals scikit-learn / imbalanced-learn: ${c.name}`, (t) => {
    const m = classificationMetrics(Int32Array.from(c.y_true), Int32Array.from(c.y_pred), c.classes);
    const e = c.expected;
    const scalars: [string, number, string][] = [
      ['accuracy', m.accuracy, 'accuracy'],
      ['balancedAccuracy', m.balancedAccuracy, 'balanced_accuracy'],
      ['macroPrecision', m.macroPrecision, 'precision_macro'],
      ['macroRecall', m.macroRecall, 'recall_macro'],
      ['macroF1', m.macroF1, 'f1_macro'],
      ['gm', m.gm, 'gm'],
      ['gmMacro', m.gmMacro, 'gm_macro'],
    ];
    for (const [name, actual, key] of scalars) {
      t.true(close(actual, e[key] as number), `${name}: ${actual} vs ${key} ${e[key]}`);
    }
    const vectors: [string, number[], string][] = [
      ['precision', m.perClass.precision, 'per_class_precision'],
      ['recall', m.perClass.recall, 'per_class_recall'],
      ['f1', m.perClass.f1, 'per_class_f1'],
      ['specificity', m.perClass.specificity, 'per_class_specificity'],
      ['perClassAccuracy', m.perClassAccuracy, 'per_class_recall'],
    ];
    for (const [name, actual, key] of vectors) {
      const expected = e[key] as number[];
      t.is(actual.length, c.classes, name);
      t.true(
        actual.every((v, i) => close(v, expected[i])),
        `${name}: [${actual}] vs ${key} [${expected}]`,
      );
    }
    t.deepEqual(m.perClass.support, e.support);
    t.deepEqual(m.confusion, e.confusion);
    t.is(m.samples, c.y_true.length);
    // Where every class occurs in y_true, gm is imblearn's default geometric_mean_score too.
    if (m.perClass.support.every((s) => s > 0)) t.true(close(m.gm, e.gm_default as number));
  });
}

test('bad inputs name the argument', (t) => {
  t.throws(() => classificationMetrics([0, 1], [0], 2), {
    message: 'yPred: expected 2 predictions (one per true label), got 1',
  });
  t.throws(() => classificationMetrics([], [], 2), { message: 'yTrue: no samples to score' });
  t.throws(() => classificationMetrics([0, 2], [0, 1], 2), {
    message: 'yTrue[1] = 2 is not a class index in [0, 2)',
  });
  t.throws(() => classificationMetrics([0, 1], [0, 1.5], 2), {
    message: 'yPred[1] = 1.5 is not a class index in [0, 2)',
  });
  t.throws(() => classificationMetrics([0], [0], 0), {
    message: 'classes: expected a positive integer, got 0',
  });
});
