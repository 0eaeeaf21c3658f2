// Parsers of command-line option values shared by every command: each rejects a bad value with a message
// naming the flag and what it expects (commander prints it and exits with status 1).
import { InvalidArgumentError, Option } from 'commander';
import { LIMITS, maxThreads, SGD } from '../defaults.js';
import { formatHyperparameter } from '../harness/schedule.js';
import { isKnnMethodName, KNN_METHODS, type KnnChoice } from '../resample/knn-method.js';

// Plain decimal notation only: Number() would also take '0x2', '0b1', '1e3' for an integer, ' ' or '' (as 0)
// and 'Infinity', none of which a user means as a count or a rate.
const DECIMAL_INTEGER = /^\+?\d+$/;
const DECIMAL_NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** A decimal integer in [min, max] (max: LIMITS.integer unless given). */
export function int(flag: string, min = 1, max: number = LIMITS.integer) {
  return (v: string): number => {
    const n = DECIMAL_INTEGER.test(v.trim()) ? Number(v) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      const range = max === LIMITS.integer ? `>= ${min}` : `in [${min}, ${max}]`;
      throw new InvalidArgumentError(`${flag} must be a decimal integer ${range}, got '${v}'.`);
    }
    return n;
  };
}

/** A finite decimal number, or NaN when `v` is not one. */
function decimal(v: string): number {
  return DECIMAL_NUMBER.test(v.trim()) ? Number(v) : Number.NaN;
}

export function positive(flag: string, max = Number.MAX_VALUE) {
  return (v: string): number => {
    const n = decimal(v);
    if (!Number.isFinite(n) || n <= 0 || n > max) {
      const range = max === Number.MAX_VALUE ? '> 0' : `in (0, ${max}]`;
      throw new InvalidArgumentError(`${flag} must be a number ${range}, got '${v}'.`);
    }
    return n;
  };
}

/** A finite number >= 1 (an imbalance ratio). */
export function atLeastOne(flag: string) {
  return (v: string): number => {
    const n = decimal(v);
    if (!Number.isFinite(n) || n < 1)
      throw new InvalidArgumentError(`${flag} must be a number >= 1, got '${v}'.`);
    return n;
  };
}

/** A learning rate: in (0, LIMITS.learningRate]. */
export function learningRate(flag: string) {
  return positive(flag, LIMITS.learningRate);
}

/** A thread count: 0 (one per core) up to LIMITS.threadsPerCore per core of this machine. */
export function threads(flag: string) {
  return int(flag, 0, maxThreads());
}

export function nonNegative(flag: string, max = Number.MAX_VALUE) {
  return (v: string): number => {
    const n = decimal(v);
    if (!Number.isFinite(n) || n < 0 || n > max) {
      const range = max === Number.MAX_VALUE ? '>= 0' : `in [0, ${max}]`;
      throw new InvalidArgumentError(`${flag} must be a number ${range}, got '${v}'.`);
    }
    return n;
  };
}

/** A number in [0, 1): a fraction of the data, say. */
export function fraction(flag: string) {
  return (v: string): number => {
    const n = decimal(v);
    if (!Number.isFinite(n) || n < 0 || n >= 1)
      throw new InvalidArgumentError(`${flag} must be a number in [0, 1), got '${v}'.`);
    return n;
  };
}

export function numberList(flag: string) {
  return (v: string): number[] => {
    const list = v.split(',').map(decimal);
    if (list.some((x) => !Number.isFinite(x)))
      throw new InvalidArgumentError(`${flag} must be comma-separated decimal numbers, got '${v}'.`);
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

export const port = int('--port', 0, 65535);

// The parameters `--knn METHOD:NAME=VALUE,...` takes per method, with their bounds.
const KNN_PARAMETERS = {
  ivf: { nlist: [1, LIMITS.integer], nprobe: [1, LIMITS.integer] },
  hnsw: { m: [2, LIMITS.hnswM], efConstruction: [1, LIMITS.hnswEf], efSearch: [1, LIMITS.hnswEf] },
} as const;

/**
 * The samplers' nearest-neighbour search: exact, ivf, hnsw or auto, an approximate method optionally with
 * parameters after a colon (`hnsw:m=16,efSearch=128`, `ivf:nlist=1024,nprobe=32`).
 */
export function knnChoice(flag: string) {
  return (v: string): KnnChoice => {
    const [method, params, ...rest] = v.split(':');
    if (!isKnnMethodName(method) || rest.length > 0) {
      throw new InvalidArgumentError(
        `${flag} must be one of ${KNN_METHODS.join(', ')}, optionally followed by :name=value,... for ivf or hnsw; got '${v}'.`,
      );
    }
    if (params === undefined) return { method };
    if (method !== 'ivf' && method !== 'hnsw')
      throw new InvalidArgumentError(`${flag}: ${method} takes no parameters, got '${v}'.`);
    const allowed: Record<string, readonly [number, number]> = KNN_PARAMETERS[method];
    const values: Record<string, number> = {};
    for (const pair of params.split(',')) {
      const [name, value, ...more] = pair.split('=');
      const bounds = allowed[name];
      if (bounds === undefined || value === undefined || more.length > 0) {
        throw new InvalidArgumentError(
          `${flag}: ${method} takes ${Object.keys(allowed).join(', ')} as name=value, got '${pair}'.`,
        );
      }
      if (name in values) throw new InvalidArgumentError(`${flag}: ${name} is given twice.`);
      values[name] = int(`${flag} ${method} ${name}`, bounds[0], bounds[1])(value);
    }
    return method === 'ivf' ? { method, ivf: values } : { method, hnsw: values };
  };
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
    momentum ? fraction(flag) : nonNegative(flag),
  );
}
