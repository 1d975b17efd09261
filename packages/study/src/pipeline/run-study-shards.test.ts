import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadExperiment } from '../config/load-experiment';
import { createTinyOrganism } from '../models/create-tiny-organism';
import { formatStudyStatus, readStudyStatus } from './read-study-status';
import { runStudy } from './run-study';
import { completedShardCount, type ShardRecord } from './shard-records';

const configFile = join(
  import.meta.dirname,
  '..',
  '..',
  '..',
  '..',
  'examples',
  'rm-sycophancy',
  'experiments',
  'rm-sycophancy-tiny.yaml',
);

/**
 * Every file under a folder as SHA-256, after blanking JSON timestamps (createdAt/updatedAt) and the
 * experiment folder's own path (the tiny organism is generated inside each experiment, so the `model`
 * path recorded in response files and safetensors metadata names a different folder; its content
 * identity is the same). Safetensors files are hashed as their normalised header plus their data bytes.
 */
async function snapshot(directory: string, experiment: string): Promise<Record<string, string>> {
  const normalise = (text: string) =>
    text.replaceAll(experiment, '<experiment>').replace(/"(createdAt|updatedAt)": "[^"]*"/g, '"$1": ""');
  const files: Record<string, string> = {};
  const walk = async (folder: string) => {
    for (const entry of await readdir(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) await walk(path);
      else {
        const bytes = await readFile(path);
        const hash = createHash('sha256');
        if (entry.name.endsWith('.json')) hash.update(normalise(bytes.toString('utf8')));
        else if (entry.name.endsWith('.safetensors')) {
          const headerLength = Number(bytes.readBigUInt64LE(0));
          // The header is padded with spaces to 8 bytes, so its length follows the path's.
          hash.update(
            normalise(
              bytes
                .subarray(8, 8 + headerLength)
                .toString('utf8')
                .trimEnd(),
            ),
          );
          hash.update(bytes.subarray(8 + headerLength));
        } else hash.update(bytes);
        files[relative(directory, path)] = hash.digest('hex');
      }
    }
  };
  await walk(directory);
  return files;
}

function record(index: number, count: number, key: string): ShardRecord {
  return { index, count, key, completedAt: '', seconds: 0, summary: {} };
}

describe('completedShardCount', () => {
  it('is complete only when every index of one count finished with the current key', () => {
    expect(completedShardCount([record(0, 2, 'k'), record(1, 2, 'k')], 'k').count).toBe(2);
    expect(completedShardCount([record(0, 2, 'k'), record(1, 2, 'old')], 'k')).toEqual({
      count: undefined,
      missing: [1],
      largestCount: 2,
    });
    expect(completedShardCount([record(0, 3, 'k'), record(2, 3, 'k')], 'k').missing).toEqual([1]);
    expect(completedShardCount([], 'k').count).toBeUndefined();
  });
});

describe('traitlens run --shard on the tiny study (capture and replay)', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'traitlens-study-shards-'));
  });
  afterAll(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('two concurrent shards equal one process; the unsharded run then finds the stages done', {
    timeout: 900_000,
  }, async () => {
    const quiet = () => {};
    const single = await loadExperiment(configFile, { output: join(root, 'single') });
    await runStudy(single, { stages: ['capture', 'replay'], log: quiet });

    const sharded = await loadExperiment(configFile, { output: join(root, 'sharded') });
    // The generated organism first (a real study downloads its models before the array starts).
    await createTinyOrganism(sharded.tinyOrganismDirectory!, sharded.config.tinyOrganism!);
    const runs = await Promise.all(
      [0, 1].map((index) =>
        runStudy(sharded, { stages: ['capture', 'replay'], shard: { index, count: 2 }, log: quiet }),
      ),
    );
    for (const run of runs) expect(run.ran).toEqual(['capture', 'replay']);
    const status = await readStudyStatus(configFile, { output: sharded.directory });
    const capture = status.stages.find((entry) => entry.stage === 'capture')!;
    expect(capture.shards).toEqual({
      count: 2,
      done: [0, 1],
      stale: [],
      failed: [],
      missing: [],
      failures: [],
    });
    expect(capture.state).toBe('done');

    const lines: string[] = [];
    const rest = await runStudy(sharded, { stages: ['capture', 'replay'], log: (line) => lines.push(line) });
    expect(rest.ran).toEqual([]);
    expect(lines.filter((line) => line.includes('finished by 2 shards'))).toHaveLength(2);
    expect(await snapshot(join(sharded.directory, 'inference'), sharded.directory)).toEqual(
      await snapshot(join(single.directory, 'inference'), single.directory),
    );
  });

  it('status lists a shard whose stage threw as failed, with the reason, and the others as missing', async () => {
    const experiment = await loadExperiment(configFile, { output: join(root, 'failing') });
    // Replay before capture: the shard finds no responses to replay and fails.
    await expect(
      runStudy(experiment, { stages: ['replay'], shard: { index: 1, count: 3 }, log: () => {} }),
    ).rejects.toThrow(/has no responses/);
    const status = await readStudyStatus(configFile, { output: experiment.directory });
    const replay = status.stages.find((entry) => entry.stage === 'replay')!;
    expect(replay.shards).toMatchObject({ count: 3, done: [], failed: [1], missing: [0, 2] });
    expect(replay.shards!.failures[0]!.message).toMatch(/replay stage: .*has no responses/);
    expect(formatStudyStatus(status)).toMatch(/shards of 3: done -; stale -; failed 1; missing 0,2/);
  });

  it('refuses stages that do not shard', async () => {
    const experiment = await loadExperiment(configFile, { output: join(root, 'refused') });
    await expect(
      runStudy(experiment, { stages: ['analyze'], shard: { index: 0, count: 2 }, log: () => {} }),
    ).rejects.toThrow(/analyze runs in one process/);
  });
});
