import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type WorkShard, writeJsonAtomic } from '@traitlens/core';
import type { StageRecord, StudyStage } from './pipeline-state';

/** The stages that split their work over shards (`traitlens run --shard`); the rest run in one process. */
export const shardableStages = [
  'extract',
  'steer',
  'capture',
  'replay',
  'label',
] as const satisfies readonly StudyStage[];

export function isShardableStage(stage: StudyStage): boolean {
  return (shardableStages as readonly StudyStage[]).includes(stage);
}

/**
 * Stages whose shards leave finished outputs: once every shard is done, the stage is. Label shards only
 * store judge scores; the unsharded run still writes labels.json from them (without judging again).
 */
export function isCompletedByShards(stage: StudyStage): boolean {
  return isShardableStage(stage) && stage !== 'label';
}

/** One shard's record: `<experiment>/pipeline-shards/<stage>/<index>-of-<count>.json`. */
export interface ShardRecord extends StageRecord {
  index: number;
  count: number;
}

function folderOf(experimentDirectory: string, stage: StudyStage): string {
  return join(experimentDirectory, 'pipeline-shards', stage);
}

/**
 * Records that one shard finished its part of a stage. Each shard writes its own file (pipeline.json is
 * written only by unsharded runs), so shards never overwrite each other.
 */
export async function writeShardRecord(
  experimentDirectory: string,
  stage: StudyStage,
  shard: WorkShard,
  record: StageRecord,
): Promise<void> {
  const file = join(folderOf(experimentDirectory, stage), `${shard.index}-of-${shard.count}.json`);
  await writeJsonAtomic(file, { ...record, index: shard.index, count: shard.count } satisfies ShardRecord);
  await rm(failurePath(experimentDirectory, stage, shard), { force: true });
}

/** Why a shard's stage failed: `<experiment>/pipeline-shards/<stage>/<index>-of-<count>.failed.json`. */
export interface ShardFailure {
  index: number;
  count: number;
  key: string;
  failedAt: string;
  message: string;
}

function failurePath(experimentDirectory: string, stage: StudyStage, shard: WorkShard): string {
  return join(folderOf(experimentDirectory, stage), `${shard.index}-of-${shard.count}.failed.json`);
}

/** Records that a shard's stage threw (a later success of the shard removes the record). */
export async function writeShardFailure(
  experimentDirectory: string,
  stage: StudyStage,
  shard: WorkShard,
  failure: Omit<ShardFailure, 'index' | 'count'>,
): Promise<void> {
  await writeJsonAtomic(failurePath(experimentDirectory, stage, shard), {
    ...failure,
    index: shard.index,
    count: shard.count,
  } satisfies ShardFailure);
}

/** Every recorded failure of a stage's shards. */
export async function readShardFailures(
  experimentDirectory: string,
  stage: StudyStage,
): Promise<ShardFailure[]> {
  let names: string[];
  try {
    names = await readdir(folderOf(experimentDirectory, stage));
  } catch {
    return [];
  }
  const failures: ShardFailure[] = [];
  for (const name of names.filter((entry) => /^\d+-of-\d+\.failed\.json$/.test(entry)).sort()) {
    try {
      failures.push(JSON.parse(await readFile(join(folderOf(experimentDirectory, stage), name), 'utf8')));
    } catch {
      // Being replaced: read again next time.
    }
  }
  return failures;
}

/** Every shard record of a stage, by shard count then index. */
export async function readShardRecords(
  experimentDirectory: string,
  stage: StudyStage,
): Promise<ShardRecord[]> {
  let names: string[];
  try {
    names = await readdir(folderOf(experimentDirectory, stage));
  } catch {
    return [];
  }
  const records: ShardRecord[] = [];
  for (const name of names) {
    if (!/^\d+-of-\d+\.json$/.test(name)) continue;
    try {
      records.push(JSON.parse(await readFile(join(folderOf(experimentDirectory, stage), name), 'utf8')));
    } catch {
      // A record being replaced, or a damaged one: that shard counts as not finished.
    }
  }
  return records.sort((a, b) => a.count - b.count || a.index - b.index);
}

/**
 * The shard count n for which shards 0..n-1 all finished with `key` (the stage is then complete), or
 * undefined. The missing shards of the largest count seen are listed for resubmission.
 */
export function completedShardCount(
  records: readonly ShardRecord[],
  key: string,
): { count: number | undefined; missing: number[]; largestCount: number | undefined } {
  const counts = [...new Set(records.map((record) => record.count))].sort((a, b) => b - a);
  for (const count of counts) {
    const done = new Set(
      records.filter((record) => record.count === count && record.key === key).map((record) => record.index),
    );
    if (done.size === count) return { count, missing: [], largestCount: counts[0] };
  }
  const largest = counts[0];
  if (largest === undefined) return { count: undefined, missing: [], largestCount: undefined };
  const done = new Set(
    records.filter((record) => record.count === largest && record.key === key).map((record) => record.index),
  );
  return {
    count: undefined,
    missing: Array.from({ length: largest }, (_, index) => index).filter((index) => !done.has(index)),
    largestCount: largest,
  };
}
