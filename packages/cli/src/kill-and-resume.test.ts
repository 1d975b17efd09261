import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  createReliabilityFixture,
  type ReliabilityFixture,
  runBinary,
  snapshotDirectory,
} from './__fixtures__/reliability-fixture';

// Kill -9 at several points of each stage, then resume: the outputs must be byte-identical to an
// uninterrupted run (timestamps aside), with no temporary file or lock left (docs/reliability.md).
// The kill is a real SIGKILL that the process sends itself at its n-th atomic write
// (TRAITLENS_TEST_KILL_AT_WRITE), either after the write or while only the temporary file exists.

let fixture: ReliabilityFixture;
beforeAll(async () => {
  fixture = await createReliabilityFixture();
});

const common = () => ['--model', fixture.model, '--threads', '1'];
const extractArgs = (experiment: string) => [
  'extract',
  ...common(),
  '--traits',
  'tinystories/happiness',
  '--datasets',
  fixture.datasets,
  '--experiment',
  experiment,
  '--max-new-tokens',
  '6',
  '--batch-size',
  '5',
];
const captureArgs = (experiment: string) => [
  'capture',
  ...common(),
  '--prompt-set',
  fixture.promptSet,
  '--experiment',
  experiment,
  '--variant',
  'base',
  '--max-new-tokens',
  '6',
  '--batch-size',
  '2',
];
const steerArgs = (experiment: string, vectors: string) => [
  'steer',
  ...common(),
  '--trait',
  'tinystories/happiness',
  '--datasets',
  fixture.datasets,
  '--vectors',
  vectors,
  '--layers',
  '1,2',
  '--judge',
  'lexicon',
  '--coefficients',
  '2,8',
  '--max-new-tokens',
  '6',
  '--questions',
  '3',
  '--experiment',
  experiment,
];

async function freshExperiment(): Promise<string> {
  return mkdtemp(join(fixture.root, 'experiment-'));
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
  const env = { TRAITLENS_CACHE: fixture.cache };
  // One folder name for every copy: the report's title names the experiment folder. With `onePath`
  // every run uses the same folder (emptied first): a study's generated models are named by their path
  // in the files derived from them.
  const onePath = settings.onePath
    ? join(await mkdtemp(join(fixture.root, 'run-')), 'experiment')
    : undefined;
  const freshExperiment = async () => {
    if (onePath) await rm(onePath, { recursive: true, force: true });
    const experiment = onePath ?? join(await mkdtemp(join(fixture.root, 'run-')), 'experiment');
    if (prepared) await cp(prepared, experiment, { recursive: true });
    else await mkdir(experiment);
    return experiment;
  };
  const reference = await freshExperiment();
  const first = await runBinary(args(reference), env);
  expect(first.code, first.stderr).toBe(0);
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
    await killAndResume(extractArgs, ['1', '4:before-rename', '8']);
  });

  it('capture', { timeout: 600_000 }, async () => {
    await killAndResume(captureArgs, ['2:before-rename', '5', '10']);
  });

  it('steer', { timeout: 600_000 }, async () => {
    const extraction = await freshExperiment();
    const extracted = await runBinary(extractArgs(extraction), { TRAITLENS_CACHE: fixture.cache });
    expect(extracted.code, extracted.stderr).toBe(0);
    const vectors = join(
      extraction,
      'extraction',
      'tinystories',
      'happiness',
      'vectors',
      'mean_diff.safetensors',
    );
    expect(existsSync(vectors)).toBe(true);
    await killAndResume((experiment) => steerArgs(experiment, vectors), ['1', '3:before-rename', '6']);
  });

  describe('later stages, each from a copy of an experiment with extract and capture done', () => {
    let prepared: string;
    beforeAll(async () => {
      prepared = await freshExperiment();
      for (const args of [extractArgs(prepared), captureArgs(prepared)]) {
        const done = await runBinary(args, { TRAITLENS_CACHE: fixture.cache });
        expect(done.code, done.stderr).toBe(0);
      }
    }, 600_000);

    it('replay (capture --replay-variant)', { timeout: 600_000 }, async () => {
      const replayArgs = (experiment: string) => [
        ...captureArgs(experiment),
        '--replay-variant',
        'clean',
        '--replay-model',
        fixture.model,
      ];
      await killAndResume(replayArgs, ['1', '3:before-rename', '7'], prepared);
    });

    it('label', { timeout: 600_000 }, async () => {
      const labelArgs = (experiment: string) => [
        'label',
        '--experiment',
        experiment,
        '--prompt-set',
        fixture.promptSet,
        '--variant',
        'base',
        '--keywords',
        'the,and,a',
      ];
      await killAndResume(labelArgs, ['1:before-rename', '1', '2:before-rename'], prepared);
    });

    it('analyze', { timeout: 600_000 }, async () => {
      const analyzeArgs = (experiment: string) => [
        'analyze',
        '--experiment',
        experiment,
        '--variant',
        'base',
        '--prompt-set',
        'prompts',
      ];
      await killAndResume(analyzeArgs, ['1', '2:before-rename', '4'], prepared);
    });

    it('report', { timeout: 600_000 }, async () => {
      const analyzed = await freshExperiment();
      await cp(prepared, analyzed, { recursive: true });
      const done = await runBinary(
        ['analyze', '--experiment', analyzed, '--variant', 'base', '--prompt-set', 'prompts'],
        { TRAITLENS_CACHE: fixture.cache },
      );
      expect(done.code, done.stderr).toBe(0);
      const reportArgs = (experiment: string) => ['report', '--experiment', experiment];
      await killAndResume(reportArgs, ['1:before-rename', '2', '4:before-rename'], analyzed);
    });
  });

  it('traitlens run (the whole tiny study: every stage from extract to report)', {
    timeout: 900_000,
  }, async () => {
    const config = join(
      import.meta.dirname,
      '..',
      '..',
      '..',
      'examples',
      'rm-sycophancy',
      'experiments',
      'rm-sycophancy-tiny.yaml',
    );
    await killAndResume(
      (experiment) => ['run', config, '--output', experiment],
      ['3', '30:before-rename', '90'],
      undefined,
      { onePath: true },
    );
  });
});
