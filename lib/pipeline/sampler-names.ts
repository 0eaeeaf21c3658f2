// The names of the phase-2 samplers: what `eos run --sampler/--compare` and `eos resample --sampler` accept.
// In a module of its own (no imports) so that the run configuration and the defaults can name them without
// depending on the samplers' code.
export const SAMPLER_NAMES = ['none', 'ros', 'smote', 'bsmote1', 'bsmote2', 'adasyn', 'eos'] as const;
export type SamplerName = (typeof SAMPLER_NAMES)[number];

export function isSamplerName(name: string): name is SamplerName {
  return (SAMPLER_NAMES as readonly string[]).includes(name);
}

/** The message for a name that is not a sampler (`what`: the option or setting that named it). */
export function samplerNameError(what: string, name: string): string {
  return `unknown ${what} ${name}; choose from ${SAMPLER_NAMES.join(', ')}`;
}
