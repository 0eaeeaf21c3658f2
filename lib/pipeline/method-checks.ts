// The check of a run's phase-2 methods against its training labels, right after loading and before phase 1:
// a method that cannot run on the data (a class smaller than its neighbour count, say) is known then, not
// after hours of training. The main method must run, so its failure ends the run at once; a comparison
// method's failure is reported and the run goes on without it.
import type { RunConfig } from './config.js';
import { samplerSettings } from './fit-method.js';
import { checkSamplerOnLabels, type SamplerName } from './samplers.js';

export interface MethodFailure {
  name: string;
  message: string;
}

/** The methods of `config` in the order a run fits them: the main sampler first. */
export function runMethods(config: RunConfig): SamplerName[] {
  return [config.sampler, ...config.compareWith.filter((n) => n !== config.sampler)];
}

/**
 * Throws a RangeError naming the main sampler when it cannot run on `labels`; returns the comparison methods
 * that cannot, with the sampler's own reason.
 */
export function checkMethodsOnLabels(config: RunConfig, labels: Int32Array): MethodFailure[] {
  const failures: MethodFailure[] = [];
  for (const name of runMethods(config)) {
    try {
      checkSamplerOnLabels(name, labels, samplerSettings(config));
    } catch (err) {
      const message = (err as Error).message;
      if (name === config.sampler) {
        throw new RangeError(`sampler ${name} cannot run on this training set: ${message}`);
      }
      failures.push({ name, message });
    }
  }
  return failures;
}
