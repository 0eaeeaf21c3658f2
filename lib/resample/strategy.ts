// Resolves a sampling strategy into "how many rows to add per class", following imbalanced-learn's
// check_sampling_strategy for over-samplers (utils/_validation.py in imbalanced-learn 0.10).

import type { SamplingStrategy } from './types.js';
import type { ClassIndex } from './validate.js';

const NAMED = ['auto', 'not majority', 'minority', 'not minority', 'all'] as const;

/** The first label with the largest (or smallest) count: ties go to the smallest label. */
function extremeLabel(classes: ClassIndex, pick: 'largest' | 'smallest'): number {
  let best = classes.labels[0];
  for (const label of classes.labels) {
    const count = classes.members.get(label)!.length;
    const bestCount = classes.members.get(best)!.length;
    if (pick === 'largest' ? count > bestCount : count < bestCount) best = label;
  }
  return best;
}

/**
 * Returns label -> number of synthetic rows to generate, ascending by label, classes with nothing to add
 * included with 0 (so callers can skip them the way imbalanced-learn does).
 */
export function resolveSamplingStrategy(
  strategy: SamplingStrategy,
  classes: ClassIndex,
): Map<number, number> {
  const count = (label: number) => classes.members.get(label)!.length;
  const majority = extremeLabel(classes, 'largest');
  const majorityCount = count(majority);
  const result = new Map<number, number>();

  if (typeof strategy === 'string') {
    if (!(NAMED as readonly string[]).includes(strategy)) {
      throw new RangeError(
        `samplingStrategy: unknown name '${strategy}'; expected one of ${NAMED.join(', ')}`,
      );
    }
    const minority = extremeLabel(classes, 'smallest');
    for (const label of classes.labels) {
      const included =
        strategy === 'all' ||
        ((strategy === 'auto' || strategy === 'not majority') && label !== majority) ||
        (strategy === 'minority' && label === minority) ||
        (strategy === 'not minority' && label !== minority);
      if (included) result.set(label, majorityCount - count(label));
    }
    return result;
  }

  const entries = perClassEntries(strategy);
  for (const [label, wanted] of entries) {
    if (!classes.members.has(label)) {
      throw new RangeError(`samplingStrategy: class ${label} is not present in y`);
    }
    if (!Number.isInteger(wanted) || wanted < 0) {
      throw new RangeError(
        `samplingStrategy: class ${label} asks for ${wanted} rows; expected an integer >= 0`,
      );
    }
    if (wanted < count(label)) {
      throw new RangeError(
        `samplingStrategy: class ${label} has ${count(label)} samples and ${wanted} are asked; ` +
          'an over-sampler cannot remove rows',
      );
    }
  }
  for (const [label, wanted] of [...entries].sort((a, b) => a[0] - b[0])) {
    result.set(label, wanted - count(label));
  }
  return result;
}

function perClassEntries(strategy: Exclude<SamplingStrategy, string>): [number, number][] {
  if (strategy instanceof Map) return [...strategy.entries()];
  if (strategy === null || typeof strategy !== 'object') {
    throw new TypeError('samplingStrategy: expected a name or an object mapping labels to row counts');
  }
  return Object.entries(strategy).map(([key, value]) => {
    const label = Number(key);
    if (!Number.isInteger(label)) throw new RangeError(`samplingStrategy: '${key}' is not an integer label`);
    return [label, value as number];
  });
}
