// Parsers of command-line option values shared by every command: each rejects a bad value with a message
// naming the flag and what it expects (commander prints it and exits with status 1).
import { InvalidArgumentError, Option } from 'commander';
import { SGD } from '../defaults.js';
import { formatHyperparameter } from '../harness/schedule.js';

export function int(flag: string, min = 1) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min)
      throw new InvalidArgumentError(`${flag} must be an integer >= ${min}.`);
    return n;
  };
}

export function positive(flag: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${flag} must be a number > 0.`);
    return n;
  };
}

export function nonNegative(flag: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`${flag} must be a number >= 0.`);
    return n;
  };
}

/** A number in [0, 1) (an SGD momentum). */
export function unitInterval(flag: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0 || n >= 1)
      throw new InvalidArgumentError(`${flag} must be a number in [0, 1).`);
    return n;
  };
}

export function numberList(flag: string) {
  return (v: string): number[] => {
    const list = v.split(',').map(Number);
    if (list.some((x) => !Number.isFinite(x)))
      throw new InvalidArgumentError(`${flag} must be comma-separated numbers.`);
    return list;
  };
}

/** One name from `valid`, with commander's wording for choices; `explain` as for listOf. */
export function oneOf<T extends string>(
  valid: readonly T[],
  check: (s: string) => s is T,
  explain: (name: string) => string | undefined = () => undefined,
) {
  return (v: string): T => {
    if (check(v)) return v;
    const more = explain(v);
    throw new InvalidArgumentError(`Allowed choices are ${valid.join(', ')}.${more ? ` ${more}` : ''}`);
  };
}

export function port(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError('--port must be an integer in [0, 65535].');
  return n;
}

/**
 * A comma-separated list of distinct names from `valid`. `explain` may say more about a name that is not
 * valid (e.g. where such names are accepted instead).
 */
export function listOf<T extends string>(
  flag: string,
  valid: readonly T[],
  check: (s: string) => s is T,
  explain: (name: string) => string | undefined = () => undefined,
) {
  return (v: string): T[] => {
    const names = v.split(',').filter((s) => s.length > 0);
    for (const n of names) {
      if (!check(n)) {
        const more = explain(n);
        throw new InvalidArgumentError(
          `${flag}: unknown name ${n}; choose from ${valid.join(', ')}.${more ? ` ${more}` : ''}`,
        );
      }
    }
    if (new Set(names).size !== names.length)
      throw new InvalidArgumentError(`${flag}: a name is given twice.`);
    return names as T[];
  };
}

/** A phase's SGD flag (--momentum / --weight-decay for phase 1, --head-... for phase 3), with its default. */
export function sgdOption(setting: 'momentum' | 'weightDecay', phase: 1 | 3): Option {
  const momentum = setting === 'momentum';
  const flag = `${phase === 1 ? '--' : '--head-'}${momentum ? 'momentum' : 'weight-decay'}`;
  const value = momentum ? String(SGD.momentum) : formatHyperparameter(SGD.weightDecay);
  const description = `phase-${phase} SGD ${momentum ? 'momentum' : 'weight decay'} (default ${value})`;
  return new Option(`${flag} <${momentum ? 'm' : 'w'}>`, description).argParser(
    momentum ? unitInterval(flag) : nonNegative(flag),
  );
}
