import { describe, expect, it } from 'vitest';
import type { TraitlensError } from '../errors/traitlens-error';
import {
  isUnitInShard,
  parseWorkShard,
  resolveWorkShard,
  shardOfUnit,
  workShardFromEnvironment,
} from './work-shard';

describe('shardOfUnit', () => {
  it('matches int.from_bytes(sha256(id)[:6], "big") % n computed with Python hashlib', () => {
    expect(shardOfUnit('prompt-001', 4)).toBe(0);
    expect(shardOfUnit('prompt-001', 7)).toBe(6);
    expect(shardOfUnit('prompt-001', 1000)).toBe(908);
    expect(shardOfUnit('alignment/sycophancy', 4)).toBe(1);
    expect(shardOfUnit('alignment/sycophancy', 7)).toBe(4);
    expect(shardOfUnit('L12', 4)).toBe(2);
    expect(shardOfUnit('héllo', 1000)).toBe(745);
  });

  it('splits into disjoint shards covering every unit, and a unit keeps its shard when the set grows', () => {
    const ids = Array.from({ length: 400 }, (_, index) => `p${index}`);
    const owners = ids.map((id) => [0, 1, 2, 3].filter((index) => isUnitInShard(id, { index, count: 4 })));
    expect(owners.every((list) => list.length === 1)).toBe(true);
    const sizes = [0, 1, 2, 3].map((index) => owners.filter((list) => list[0] === index).length);
    // A balanced hash: each of 4 shards gets 100 +- 40 of 400 units (binomial sd ~8.7).
    for (const size of sizes) expect(Math.abs(size - 100)).toBeLessThan(40);
    const grown = [...ids, ...Array.from({ length: 100 }, (_, index) => `new${index}`)];
    for (const id of ids) expect(shardOfUnit(id, 4)).toBe(owners[ids.indexOf(id)]![0]);
    expect(grown.length).toBe(500);
  });
});

describe('parseWorkShard / resolveWorkShard', () => {
  it('parses i/n and refuses malformed or out-of-range values with INVALID_ARGUMENT', () => {
    expect(parseWorkShard('2/8')).toEqual({ index: 2, count: 8 });
    for (const bad of ['8/8', '1/0', '-1/3', 'a/b', '3'])
      expect(() => parseWorkShard(bad)).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT' }) as TraitlensError,
      );
  });

  it('reads a SLURM array (ids from SLURM_ARRAY_TASK_MIN, with a step) and a Kubernetes indexed Job', () => {
    expect(
      workShardFromEnvironment({
        SLURM_ARRAY_TASK_ID: '3',
        SLURM_ARRAY_TASK_COUNT: '8',
        SLURM_ARRAY_TASK_MIN: '1',
      }),
    ).toEqual({ index: 2, count: 8, source: 'slurm' });
    expect(
      workShardFromEnvironment({
        SLURM_ARRAY_TASK_ID: '4',
        SLURM_ARRAY_TASK_COUNT: '3',
        SLURM_ARRAY_TASK_MIN: '0',
        SLURM_ARRAY_TASK_STEP: '2',
      }),
    ).toEqual({ index: 2, count: 3, source: 'slurm' });
    // A resubmission of some shards (--array=3,5) names the count itself.
    expect(
      workShardFromEnvironment({
        SLURM_ARRAY_TASK_ID: '5',
        SLURM_ARRAY_TASK_COUNT: '2',
        SLURM_ARRAY_TASK_MIN: '3',
        TRAITLENS_SHARD_COUNT: '8',
      }),
    ).toEqual({ index: 5, count: 8, source: 'slurm' });
    expect(workShardFromEnvironment({ JOB_COMPLETION_INDEX: '5', TRAITLENS_SHARD_COUNT: '6' })).toEqual({
      index: 5,
      count: 6,
      source: 'kubernetes',
    });
    expect(workShardFromEnvironment({})).toBeUndefined();
    expect(() => workShardFromEnvironment({ JOB_COMPLETION_INDEX: '1' })).toThrow(/TRAITLENS_SHARD_COUNT/);
    expect(() => workShardFromEnvironment({ SLURM_ARRAY_TASK_ID: '1' })).toThrow(/SLURM_ARRAY_TASK_COUNT/);
  });

  it('lets --shard win over the environment', () => {
    expect(resolveWorkShard('1/2', { JOB_COMPLETION_INDEX: '0', TRAITLENS_SHARD_COUNT: '4' })).toEqual({
      index: 1,
      count: 2,
      source: 'option',
    });
    expect(resolveWorkShard(undefined, {})).toBeUndefined();
  });
});
