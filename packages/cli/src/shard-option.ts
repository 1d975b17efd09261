import type { Command } from 'commander';

export const shardOptionHelp =
  'work on one shard <index>/<count> (0-based, e.g. 0/8) of the units; default: from SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT or JOB_COMPLETION_INDEX/TRAITLENS_SHARD_COUNT when set, else all';

/** Adds `--shard <i/n>` (the one spelling every sharded command uses). */
export function addShardOption(command: Command): Command {
  return command.option('--shard <index/count>', shardOptionHelp);
}

/**
 * The shard this process runs: `--shard`, else the scheduler's variables, else undefined. Says on stderr
 * which shard it took and from where, so a scheduler's log shows it.
 */
export async function resolveCliShard(
  value: string | undefined,
): Promise<import('@traitlens/core').ResolvedWorkShard | undefined> {
  const { formatWorkShard, resolveWorkShard } = await import('@traitlens/core');
  const shard = resolveWorkShard(value);
  if (shard)
    process.stderr.write(
      `shard ${formatWorkShard(shard)} (from ${shard.source === 'option' ? '--shard' : shard.source === 'slurm' ? 'the SLURM job array' : 'the Kubernetes indexed Job'})\n`,
    );
  return shard;
}
