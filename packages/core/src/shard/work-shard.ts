import { createHash } from 'node:crypto';
import { TraitlensError } from '../errors/traitlens-error';

/**
 * One of `count` disjoint parts of a stage's work (0-based `index`). A unit of work (a prompt, a trait,
 * a steered layer) belongs to the shard `shardOfUnit(id, count)`: a hash of its id, so the split needs
 * no coordination, is the same on every machine, and a unit keeps its shard when a prompt set grows.
 */
export interface WorkShard {
  index: number;
  count: number;
}

/** Where a shard came from: the `--shard` option, a SLURM job array or a Kubernetes indexed Job. */
export type WorkShardSource = 'option' | 'slurm' | 'kubernetes';

export interface ResolvedWorkShard extends WorkShard {
  source: WorkShardSource;
}

/** The environment variable that tells a Kubernetes indexed Job's pods how many shards there are. */
export const shardCountVariable = 'TRAITLENS_SHARD_COUNT';

function assertShard(index: number, count: number, origin: string): WorkShard {
  if (!Number.isInteger(count) || count < 1)
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      `${origin}: the shard count must be a whole number >= 1 (got ${count}).`,
      { details: { index, count } },
    );
  if (!Number.isInteger(index) || index < 0 || index >= count)
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      `${origin}: shard index ${index} is outside 0..${count - 1} (shards are numbered from 0).`,
      { details: { index, count } },
    );
  return { index, count };
}

/** Parses `i/n` (0-based: `0/4` .. `3/4`). */
export function parseWorkShard(text: string): WorkShard {
  const match = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (!match)
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      `--shard: "${text}" is not <index>/<count>, e.g. 0/4 for the first of four shards (indices start at 0).`,
      { details: { value: text } },
    );
  return assertShard(Number(match[1]), Number(match[2]), `--shard ${text.trim()}`);
}

function integerVariable(environment: NodeJS.ProcessEnv, name: string): number | undefined {
  const value = environment[name];
  if (value === undefined || value.trim() === '') return undefined;
  const parsed = Number(value);
  if (!Number.isInteger(parsed))
    throw new TraitlensError('INVALID_ARGUMENT', `${name}="${value}" is not a whole number.`, {
      details: { variable: name, value },
    });
  return parsed;
}

/**
 * The shard a scheduler assigned through the environment, if any:
 * - SLURM job array (`sbatch --array=0-7` or `1-8` or `0-14:2`): index
 *   `(SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN) / SLURM_ARRAY_TASK_STEP`, count `SLURM_ARRAY_TASK_COUNT`;
 *   with `TRAITLENS_SHARD_COUNT` set, the task id is the shard index itself and that variable the count,
 *   so `sbatch --array=3,5` re-runs shards 3 and 5 of 8;
 * - Kubernetes indexed Job (`completionMode: Indexed`): index `JOB_COMPLETION_INDEX`, count
 *   `TRAITLENS_SHARD_COUNT` (set it to the Job's `completions`; Kubernetes does not export it).
 */
export function workShardFromEnvironment(
  environment: NodeJS.ProcessEnv = process.env,
): ResolvedWorkShard | undefined {
  const slurmId = integerVariable(environment, 'SLURM_ARRAY_TASK_ID');
  if (slurmId !== undefined) {
    const declared = integerVariable(environment, shardCountVariable);
    if (declared !== undefined)
      return {
        ...assertShard(
          slurmId,
          declared,
          `SLURM_ARRAY_TASK_ID with ${shardCountVariable}=${declared} (array indices are shard indices, from 0)`,
        ),
        source: 'slurm',
      };
    const count = integerVariable(environment, 'SLURM_ARRAY_TASK_COUNT');
    if (count === undefined)
      throw new TraitlensError(
        'INVALID_ARGUMENT',
        `SLURM_ARRAY_TASK_ID is ${slurmId} but SLURM_ARRAY_TASK_COUNT is not set; run under sbatch --array, or pass --shard <index>/<count>.`,
      );
    const minimum = integerVariable(environment, 'SLURM_ARRAY_TASK_MIN') ?? 0;
    const step = integerVariable(environment, 'SLURM_ARRAY_TASK_STEP') ?? 1;
    if ((slurmId - minimum) % step !== 0)
      throw new TraitlensError(
        'INVALID_ARGUMENT',
        `SLURM_ARRAY_TASK_ID ${slurmId} is not on the array's grid (min ${minimum}, step ${step}); use a plain range such as --array=0-${count - 1}.`,
      );
    return {
      ...assertShard(
        (slurmId - minimum) / step,
        count,
        'SLURM job array (--array must be one range, e.g. 0-7)',
      ),
      source: 'slurm',
    };
  }
  const kubernetesIndex = integerVariable(environment, 'JOB_COMPLETION_INDEX');
  if (kubernetesIndex !== undefined) {
    const count = integerVariable(environment, shardCountVariable);
    if (count === undefined)
      throw new TraitlensError(
        'INVALID_ARGUMENT',
        `JOB_COMPLETION_INDEX is ${kubernetesIndex} (a Kubernetes indexed Job) but ${shardCountVariable} is not set; set it to the Job's completions in the pod's env, or pass --shard <index>/<count>.`,
      );
    return {
      ...assertShard(kubernetesIndex, count, `Kubernetes indexed Job (${shardCountVariable})`),
      source: 'kubernetes',
    };
  }
  return undefined;
}

/**
 * The shard this process works on: `--shard` when given (it wins over the environment), else the
 * scheduler's, else undefined (all the work).
 */
export function resolveWorkShard(
  option: string | WorkShard | undefined,
  environment: NodeJS.ProcessEnv = process.env,
): ResolvedWorkShard | undefined {
  if (option !== undefined) {
    const shard =
      typeof option === 'string' ? parseWorkShard(option) : assertShard(option.index, option.count, 'shard');
    return { ...shard, source: 'option' };
  }
  return workShardFromEnvironment(environment);
}

/** The shard (0..count-1) a unit id belongs to: the first 48 bits of SHA-256(id) modulo count. */
export function shardOfUnit(unitId: string, count: number): number {
  if (count <= 1) return 0;
  const digest = createHash('sha256').update(unitId, 'utf8').digest();
  return digest.readUIntBE(0, 6) % count;
}

/** Whether a unit belongs to `shard` (always true without a shard). */
export function isUnitInShard(unitId: string, shard: WorkShard | undefined): boolean {
  return shard === undefined || shard.count <= 1 || shardOfUnit(unitId, shard.count) === shard.index;
}

/** `i/n`, as `--shard` takes it. */
export function formatWorkShard(shard: WorkShard): string {
  return `${shard.index}/${shard.count}`;
}
