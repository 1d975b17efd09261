import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandArgs, runBinary, snapshotDirectory } from './__fixtures__/cli-process';
import { createScaleOutStudy } from './__fixtures__/tiny-study';

// Each stage as three concurrent processes into one experiment folder, the shard taken from the
// variables a SLURM job array or a Kubernetes indexed Job sets, compared file by file with one process
// (docs/scale-out.md). Files are compared byte for byte; in JSON files only the values of createdAt /
// updatedAt / completedAt (when a piece was written) may differ.

let fixture: Awaited<ReturnType<typeof createScaleOutStudy>>;
let single: string;
const shards = [0, 1, 2];

/** Environment entries that turn sharding off, whatever scheduler runs the tests themselves. */
const noSchedulerShard: Record<string, string> = {
  SLURM_ARRAY_TASK_ID: '',
  JOB_COMPLETION_INDEX: '',
  TRAITLENS_SHARD_COUNT: '',
};

/** What `sbatch --array=1-3` sets in task `index + 1`. */
function slurmTask(index: number): Record<string, string> {
  return {
    ...noSchedulerShard,
    SLURM_ARRAY_JOB_ID: '4242',
    SLURM_ARRAY_TASK_ID: String(index + 1),
    SLURM_ARRAY_TASK_MIN: '1',
    SLURM_ARRAY_TASK_MAX: '3',
    SLURM_ARRAY_TASK_COUNT: '3',
  };
}

/** What a Kubernetes indexed Job with `completions: 3` sets in pod `index` (the count from the manifest). */
function kubernetesPod(index: number): Record<string, string> {
  return { ...noSchedulerShard, JOB_COMPLETION_INDEX: String(index), TRAITLENS_SHARD_COUNT: '3' };
}

function extractArgs(experiment: string): string[] {
  return commandArgs('extract', {
    model: fixture.model,
    traits: fixture.traits,
    datasets: fixture.datasets,
    experiment,
    methods: 'mean_diff',
    'max-new-tokens': 4,
    'batch-size': 12,
    threads: 1,
  });
}

function steerArgs(experiment: string): string[] {
  return commandArgs('steer', {
    model: fixture.model,
    trait: 'tinystories/happiness',
    datasets: fixture.datasets,
    experiment,
    // The single run's vectors, so the steering comparison does not depend on the extraction one.
    vectors: join(single, 'extraction', 'tinystories', 'happiness', 'vectors', 'mean_diff.safetensors'),
    judge: 'lexicon',
    steps: 2,
    'max-new-tokens': 8,
    'multi-layer': 'weighted',
    threads: 1,
  });
}

function captureArgs(experiment: string): string[] {
  return commandArgs('capture', {
    model: fixture.model,
    'prompt-set': fixture.promptSet,
    variant: 'base',
    'replay-variant': 'other',
    'replay-model': fixture.replayModel,
    experiment,
    'max-new-tokens': 5,
    'batch-size': 4,
    threads: 1,
  });
}

function labelArgs(experiment: string): string[] {
  return commandArgs('label', {
    experiment,
    'prompt-set': fixture.promptSet,
    variant: 'base',
    keywords: 'she,he,they',
  });
}

async function runAll(runs: Array<{ args: string[]; env: Record<string, string> }>) {
  const results = await Promise.all(runs.map(({ args, env }) => runBinary(args, env)));
  for (const result of results) expect(result.code, result.stderr).toBe(0);
  return results;
}

beforeAll(async () => {
  fixture = await createScaleOutStudy();
  single = join(fixture.root, 'single');
  for (const args of [extractArgs(single), steerArgs(single), captureArgs(single), labelArgs(single)])
    await runAll([{ args, env: noSchedulerShard }]);
}, 600_000);

afterAll(async () => {
  if (fixture) await rm(fixture.root, { recursive: true, force: true });
});

describe('a stage as three concurrent shards into one folder equals one process', () => {
  it('extract as a SLURM job array (one trait per task; the last one writes summary.json)', {
    timeout: 600_000,
  }, async () => {
    const experiment = await mkdtemp(join(fixture.root, 'slurm-extract-'));
    const results = await runAll(
      shards.map((index) => ({ args: extractArgs(experiment), env: slurmTask(index) })),
    );
    expect(
      results.map((result) => /shard (\d)\/3 \(from the SLURM job array\)/.exec(result.stderr)?.[1]),
    ).toEqual(['0', '1', '2']);
    const expected = await snapshotDirectory(join(single, 'extraction'));
    expect(Object.keys(expected)).toContain('summary.json');
    expect(await snapshotDirectory(join(experiment, 'extraction'))).toEqual(expected);
  });

  it('steer as a Kubernetes indexed Job (layers split; baseline shared; multi-layer by the last)', {
    timeout: 600_000,
  }, async () => {
    const experiment = await mkdtemp(join(fixture.root, 'kubernetes-steer-'));
    const results = await runAll(
      shards.map((index) => ({ args: steerArgs(experiment), env: kubernetesPod(index) })),
    );
    expect(results.every((result) => result.stderr.includes('(from the Kubernetes indexed Job)'))).toBe(true);
    // SHA-256("happiness/L<layer>") mod 3 is 1, 2, 1, 1 for layers 0-3: pod 0 has nothing to do and
    // loads no model.
    expect(results[0]!.stderr).toContain('no layer of happiness (0, 1, 2, 3) falls into this shard');
    const expected = await snapshotDirectory(join(single, 'steering'));
    expect(
      Object.keys(expected).filter((name) => name.startsWith('happiness/searches/')).length,
    ).toBeGreaterThan(2);
    expect(await snapshotDirectory(join(experiment, 'steering'))).toEqual(expected);
  });

  it('capture and replay with --shard i/n (prompts split by id)', { timeout: 600_000 }, async () => {
    const experiment = await mkdtemp(join(fixture.root, 'option-capture-'));
    await runAll(
      shards.map((index) => ({
        args: [...captureArgs(experiment), '--shard', `${index}/3`],
        env: noSchedulerShard,
      })),
    );
    const expected = await snapshotDirectory(join(single, 'inference'));
    expect(Object.keys(expected).filter((name) => name.endsWith('.safetensors'))).toHaveLength(18);
    expect(await snapshotDirectory(join(experiment, 'inference'))).toEqual(expected);
  });
});

describe('two steer processes on one trait with different --layers', () => {
  it('both exit 0 and results.json keeps both searches and every run (the lost write)', {
    timeout: 600_000,
  }, async () => {
    const experiment = await mkdtemp(join(fixture.root, 'two-steer-'));
    const args = steerArgs(experiment).filter(
      (arg, index, all) => arg !== '--multi-layer' && all[index - 1] !== '--multi-layer',
    );
    await runAll([
      { args: [...args, '--layers', '0,1'], env: noSchedulerShard },
      { args: [...args, '--layers', '2,3'], env: noSchedulerShard },
    ]);
    const results = JSON.parse(
      await readFile(join(experiment, 'steering', 'happiness', 'results.json'), 'utf8'),
    ) as {
      runs: { kind: string; interventions: { layer: number }[] }[];
      searches: { settings: { layers: number[] } }[];
    };
    expect(results.searches.map((search) => search.settings.layers).sort()).toEqual([
      [0, 1],
      [2, 3],
    ]);
    const steeredLayers = new Set(
      results.runs.filter((run) => run.kind === 'layer').map((run) => run.interventions[0]!.layer),
    );
    expect([...steeredLayers].sort()).toEqual([0, 1, 2, 3]);
    // 2 adaptive steps per layer, 4 layers, one shared baseline.
    expect(results.runs).toHaveLength(1 + 4 * 2);
  });
});

describe('label as three concurrent shards, then the merge', () => {
  it('SLURM tasks write their shards; the unsharded label writes the labels of one process', {
    timeout: 600_000,
  }, async () => {
    const experiment = await mkdtemp(join(fixture.root, 'slurm-label-'));
    await cp(join(single, 'inference'), join(experiment, 'inference'), { recursive: true });
    await runAll(shards.map((index) => ({ args: labelArgs(experiment), env: slurmTask(index) })));
    const shardFiles = await snapshotDirectory(join(experiment, 'labels'));
    expect(Object.keys(shardFiles).sort()).toEqual([
      'shards/0-of-3.json',
      'shards/1-of-3.json',
      'shards/2-of-3.json',
    ]);
    await runAll([{ args: labelArgs(experiment), env: noSchedulerShard }]);
    for (const file of ['labels.json', 'annotations.json'])
      expect(await readFile(join(experiment, 'labels', file), 'utf8')).toBe(
        await readFile(join(single, 'labels', file), 'utf8'),
      );
  });
});

describe('a shard killed mid-run and resubmitted', () => {
  it.each([
    ['capture', captureArgs, 'inference'],
    ['steer', steerArgs, 'steering'],
  ] as const)(
    '%s: the experiment completes with the results of one process',
    { timeout: 600_000 },
    async (_stage, args, folder) => {
      const experiment = await mkdtemp(join(fixture.root, 'killed-'));
      // Shard 1 of a SLURM array kills itself (SIGKILL) right after its third file lands in the experiment.
      const kill = { TRAITLENS_TEST_KILL_AT_WRITE: '3', TRAITLENS_TEST_KILL_UNDER: experiment };
      const results = await Promise.all(
        shards.map((index) =>
          runBinary(args(experiment), { ...slurmTask(index), ...(index === 1 ? kill : {}) }),
        ),
      );
      expect(results[1]!.signal).toBe('SIGKILL');
      for (const index of [0, 2]) expect(results[index]!.code, results[index]!.stderr).toBe(0);
      // Resubmit the failed task (sbatch --array=2), as docs/scale-out.md says.
      await runAll([{ args: args(experiment), env: slurmTask(1) }]);
      expect(await snapshotDirectory(join(experiment, folder))).toEqual(
        await snapshotDirectory(join(single, folder)),
      );
    },
  );
});
