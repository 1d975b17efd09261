import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectSuccess, runBinary, snapshotDirectory, tinyStudyConfig } from './__fixtures__/cli-process';
import { reliabilityVectors, useReliabilityStudy } from './__fixtures__/tiny-study';

// Kill -9 at several points of each stage, then resume: the outputs must be byte-identical to an
// uninterrupted run (timestamps aside), with no temporary file or lock left (docs/reliability.md).
// The kill is a real SIGKILL that the process sends itself at its n-th atomic write
// (TRAITLENS_TEST_KILL_AT_WRITE), either after the write or while only the temporary file exists.

const setup = useReliabilityStudy();

async function freshExperiment(): Promise<string> {
  return mkdtemp(join(setup.study.root, 'experiment-'));
}

/**
 * Runs `args` once uninterrupted, then once per kill point killed there and run again. `prepared`, when
 * given, is an experiment folder holding the earlier stages' outputs: each run starts from a copy of it.
 */
async function killAndResume(
  args: (experiment: string) => string[],
  killPoints: readonly string[],
  prepared?: string,
  settings: { onePath?: boolean } = {},
): Promise<void> {
  const env = { TRAITLENS_CACHE: setup.study.cache };
  // One folder name for every copy: the report's title names the experiment folder. With `onePath`
  // every run uses the same folder (emptied first): a study's generated models are named by their path
  // in the files derived from them.
  const onePath = settings.onePath
    ? join(await mkdtemp(join(setup.study.root, 'run-')), 'experiment')
    : undefined;
  const freshExperiment = async () => {
    if (onePath) await rm(onePath, { recursive: true, force: true });
    const experiment = onePath ?? join(await mkdtemp(join(setup.study.root, 'run-')), 'experiment');
    if (prepared) await cp(prepared, experiment, { recursive: true });
    else await mkdir(experiment);
    return experiment;
  };
  const reference = await freshExperiment();
  expectSuccess(await runBinary(args(reference), env));
  const expected = await snapshotDirectory(reference);
  expect(Object.keys(expected).some((path) => path.endsWith('.partial') || path.endsWith('.lock'))).toBe(
    false,
  );
  for (const point of killPoints) {
    const experiment = await freshExperiment();
    const killed = await runBinary(args(experiment), {
      ...env,
      TRAITLENS_TEST_KILL_AT_WRITE: point,
      TRAITLENS_TEST_KILL_UNDER: experiment,
    });
    expect(killed.signal, `kill point ${point}: ${killed.stderr}`).toBe('SIGKILL');
    const resumed = await runBinary(args(experiment), env);
    expect(resumed.code, `resume after kill point ${point}: ${resumed.stderr}`).toBe(0);
    expect(resumed.stderr).not.toContain('unexpected error');
    expect(await snapshotDirectory(experiment), `outputs after kill point ${point}`).toEqual(expected);
  }
}

describe('kill -9 and resume gives byte-identical outputs', () => {
  it('extract', { timeout: 600_000 }, async () => {
    await killAndResume((experiment) => setup.commands.extract(experiment), ['1', '4:before-rename', '8']);
  });

  it('capture', { timeout: 600_000 }, async () => {
    await killAndResume((experiment) => setup.commands.capture(experiment), ['2:before-rename', '5', '10']);
  });

  it('steer', { timeout: 600_000 }, async () => {
    const extraction = await freshExperiment();
    expectSuccess(
      await runBinary(setup.commands.extract(extraction), { TRAITLENS_CACHE: setup.study.cache }),
    );
    const vectors = reliabilityVectors(extraction);
    expect(existsSync(vectors)).toBe(true);
    await killAndResume(
      (experiment) => setup.commands.steer(experiment, vectors),
      ['1', '3:before-rename', '6'],
    );
  });

  describe('later stages, each from a copy of an experiment with extract and capture done', () => {
    let prepared: string;
    beforeAll(async () => {
      prepared = await freshExperiment();
      for (const args of [setup.commands.extract(prepared), setup.commands.capture(prepared)])
        expectSuccess(await runBinary(args, { TRAITLENS_CACHE: setup.study.cache }));
    }, 600_000);

    it('replay (capture --replay-variant)', { timeout: 600_000 }, async () => {
      await killAndResume(setup.commands.replay, ['1', '3:before-rename', '7'], prepared);
    });

    it('label', { timeout: 600_000 }, async () => {
      await killAndResume(setup.commands.label, ['1:before-rename', '1', '2:before-rename'], prepared);
    });

    it('analyze', { timeout: 600_000 }, async () => {
      await killAndResume(setup.commands.analyze, ['1', '2:before-rename', '4'], prepared);
    });

    it('report', { timeout: 600_000 }, async () => {
      const analyzed = await freshExperiment();
      await cp(prepared, analyzed, { recursive: true });
      expectSuccess(
        await runBinary(setup.commands.analyze(analyzed), { TRAITLENS_CACHE: setup.study.cache }),
      );
      await killAndResume(setup.commands.report, ['1:before-rename', '2', '4:before-rename'], analyzed);
    });
  });

  it('traitlens run (the whole tiny study: every stage from extract to report)', {
    timeout: 900_000,
  }, async () => {
    const config = tinyStudyConfig;
    await killAndResume(
      (experiment) => ['run', config, '--output', experiment],
      ['3', '30:before-rename', '90'],
      undefined,
      { onePath: true },
    );
  });
});
