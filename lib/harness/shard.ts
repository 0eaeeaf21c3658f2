// Shards of a comparison: `--shard I/N` runs the backbones (a phase-1 variant x seed, with the samplers
// planned on it, which reuse its embeddings) whose index in the plan is congruent to I mod N. The index is
// the backbone's position in makePlan's order, a function of the plan alone (never of what is stored), so
// every shard of one command agrees on who runs what, before, during and after the others run.
//
// `--shard auto` reads I and N from the scheduler: a Slurm job array (SLURM_ARRAY_TASK_ID, _COUNT, _MIN,
// _STEP) or a Kubernetes Indexed Job (JOB_COMPLETION_INDEX, with the count from --shard-count or
// EOS_SHARD_COUNT, since Kubernetes does not tell a pod how many completions its job has).
import type { BackbonePlan, ComparisonPlan } from './plan.js';

export interface Shard {
  index: number;
  count: number;
}

export const shardLabel = (s: Shard) => `${s.index}/${s.count}`;

/** The backbone plans (with their samplers) of one shard, in run order; all of them without a shard. */
export function shardBackbones(plan: ComparisonPlan, shard?: Shard): BackbonePlan[] {
  if (shard === undefined) return plan.backbones;
  return plan.backbones.filter((_, i) => i % shard.count === shard.index);
}

const decimal = (text: string | undefined) =>
  text !== undefined && /^\s*\d+\s*$/.test(text) ? Number(text) : Number.NaN;

function checked(index: number, count: number, source: string): Shard {
  if (!Number.isSafeInteger(count) || count < 1)
    throw new RangeError(`--shard: the shard count must be an integer >= 1 (${source})`);
  if (!Number.isSafeInteger(index) || index < 0 || index >= count)
    throw new RangeError(`--shard: the shard index must be an integer 0 <= I < N = ${count} (${source})`);
  return { index, count };
}

/**
 * The shard `spec` names: "I/N", or "auto" for the scheduler's (environment `env`; `countFlag` is
 * --shard-count). Throws a RangeError naming --shard (and the variables read) on anything else.
 */
export function parseShard(spec: string, env: NodeJS.ProcessEnv = process.env, countFlag?: string): Shard {
  if (spec !== 'auto') {
    if (countFlag !== undefined) throw new RangeError('--shard-count goes with --shard auto only');
    const m = /^(\d+)\/(\d+)$/.exec(spec.trim());
    if (m === null) throw new RangeError(`--shard: expected I/N (e.g. 0/4) or auto, got '${spec}'`);
    return checked(Number(m[1]), Number(m[2]), `got ${spec}`);
  }
  if (env.SLURM_ARRAY_TASK_ID !== undefined) {
    // Task ids run from SLURM_ARRAY_TASK_MIN (e.g. --array=1-8) in steps of SLURM_ARRAY_TASK_STEP
    // (--array=0-14:2); the shard is the task's position in that range.
    const id = decimal(env.SLURM_ARRAY_TASK_ID);
    const min = env.SLURM_ARRAY_TASK_MIN === undefined ? 0 : decimal(env.SLURM_ARRAY_TASK_MIN);
    const step = env.SLURM_ARRAY_TASK_STEP === undefined ? 1 : decimal(env.SLURM_ARRAY_TASK_STEP);
    const count = decimal(env.SLURM_ARRAY_TASK_COUNT);
    const source =
      `auto from Slurm: SLURM_ARRAY_TASK_ID=${env.SLURM_ARRAY_TASK_ID} SLURM_ARRAY_TASK_MIN=` +
      `${env.SLURM_ARRAY_TASK_MIN ?? '(unset: 0)'} SLURM_ARRAY_TASK_STEP=${env.SLURM_ARRAY_TASK_STEP ?? '(unset: 1)'} ` +
      `SLURM_ARRAY_TASK_COUNT=${env.SLURM_ARRAY_TASK_COUNT ?? '(unset)'}; use a contiguous array such as --array=0-3`;
    if (!(step >= 1)) throw new RangeError(`--shard: the array step must be an integer >= 1 (${source})`);
    return checked((id - min) / step, count, source);
  }
  if (env.JOB_COMPLETION_INDEX !== undefined) {
    const countText = countFlag ?? env.EOS_SHARD_COUNT;
    const source =
      `auto from a Kubernetes Indexed Job: JOB_COMPLETION_INDEX=${env.JOB_COMPLETION_INDEX}, ` +
      `count ${countText ?? '(unset)'} from ${countFlag !== undefined ? '--shard-count' : 'EOS_SHARD_COUNT'}`;
    if (countText === undefined)
      throw new RangeError(
        `--shard auto: JOB_COMPLETION_INDEX is set but not the shard count: pass --shard-count N or set ` +
          "EOS_SHARD_COUNT to the job's completions",
      );
    return checked(decimal(env.JOB_COMPLETION_INDEX), decimal(countText), source);
  }
  throw new RangeError(
    '--shard auto: no scheduler shard found: set by a Slurm job array (SLURM_ARRAY_TASK_ID, ' +
      'SLURM_ARRAY_TASK_COUNT, SLURM_ARRAY_TASK_MIN) or a Kubernetes Indexed Job (JOB_COMPLETION_INDEX, with ' +
      '--shard-count N or EOS_SHARD_COUNT); or give --shard I/N',
  );
}
