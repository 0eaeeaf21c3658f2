import test from 'ava';
import { makePlan, unitConfig } from '../lib/harness/index.js';
import { tinySettings } from './harness-fixtures.js';

test('the plan crosses backbones and seeds, and each backbone carries its samplers', (t) => {
  const plan = makePlan(tinySettings('/data', '/out'));
  // 2 backbones x 2 seeds phase-1 units; CE gets 3 samplers, focal the other-samplers list (eos).
  t.is(plan.backbones.length, 4);
  t.is(plan.units.length, 4 + 2 * 3 + 2 * 1);
  t.deepEqual(
    plan.units.map((u) => u.id),
    [
      'ce-seed0',
      'ce-seed0+none',
      'ce-seed0+smote',
      'ce-seed0+eos',
      'ce-seed1',
      'ce-seed1+none',
      'ce-seed1+smote',
      'ce-seed1+eos',
      'focal-seed0',
      'focal-seed0+eos',
      'focal-seed1',
      'focal-seed1+eos',
    ],
  );
  const phaseOneOnly = makePlan({ ...tinySettings('/data', '/out'), otherSamplers: [], seeds: 3 });
  t.is(phaseOneOnly.units.length, 6 + 3 * 3);
});

test('the seed index moves both the split seed and the training seed; the variant sets loss and rule', (t) => {
  const settings = tinySettings('/data', '/out');
  settings.base.seed = 10;
  settings.base.imbalance.seed = 20;
  const c = unitConfig(settings, { backbone: 'focal', seedIndex: 2 });
  t.is(c.seed, 12);
  t.is(c.imbalance.seed, 22);
  t.is(c.phase1.loss, 'focal');
  t.is(c.phase1.trainRule, 'none');
  t.is(c.phase3.loss, 'focal');
  t.is(c.outDir, '/out/units/focal-seed2');
  const ldam = unitConfig({ ...settings, backbones: ['ldam-drw'] }, { backbone: 'ldam-drw', seedIndex: 0 });
  t.deepEqual([ldam.phase1.loss, ldam.phase1.trainRule], ['ldam', 'drw']);
  // The schedule is the same for every variant.
  t.deepEqual({ ...ldam.phase1, loss: 'x', trainRule: 'x' }, { ...c.phase1, loss: 'x', trainRule: 'x' });
});

test('bad settings are refused, naming the setting', (t) => {
  const s = tinySettings('/data', '/out');
  t.throws(() => makePlan({ ...s, seeds: 0 }), { message: /seeds/ });
  t.throws(() => makePlan({ ...s, backbones: [] }), { message: /backbones/ });
  t.throws(() => makePlan({ ...s, backbones: ['ce', 'xx' as never] }), {
    message: /backbones: unknown phase-1 variant xx/,
  });
  t.throws(() => makePlan({ ...s, samplers: ['eos', 'eos'] }), { message: /samplers: .*twice/ });
  t.throws(() => makePlan({ ...s, otherSamplers: ['bogus' as never] }), {
    message: /otherSamplers: unknown sampler/,
  });
  t.throws(() => makePlan({ ...s, limits: { maxTrainPerClass: 0 } }), { message: /limits.maxTrainPerClass/ });
});
