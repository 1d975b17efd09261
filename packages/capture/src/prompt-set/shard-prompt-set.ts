import { isUnitInShard, type WorkShard } from '@traitlens/core';
import type { PromptSet } from './prompt-set';

/**
 * The prompts of `set` that belong to `shard`, by a hash of `<set id>/<prompt id>` (so a prompt keeps its
 * shard when the set grows, and sets that reuse ids 1..n do not pile the same ids onto one shard); the
 * whole set without a shard. Order within the shard is the set's order.
 */
export function shardPromptSet(set: PromptSet, shard: WorkShard | undefined): PromptSet {
  if (shard === undefined || shard.count <= 1) return set;
  return { ...set, prompts: set.prompts.filter((prompt) => isUnitInShard(`${set.id}/${prompt.id}`, shard)) };
}
