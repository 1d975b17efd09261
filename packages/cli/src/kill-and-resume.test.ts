import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
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

async function killAndResume(
  args: (experiment: string) => string[],
  killPoints: readonly string[],
): Promise<void> {
  const env = { TRAITLENS_CACHE: fixture.cache };
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
});
