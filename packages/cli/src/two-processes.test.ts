import { createHash } from 'node:crypto';
import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { acquireFileLock } from '@traitlens/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { type BinaryResult, expectSuccess, runBinary, snapshotDirectory } from './__fixtures__/cli-process';
import { reliabilityVectors, useReliabilityStudy } from './__fixtures__/tiny-study';

// Two processes start the same stage on one experiment at once. Each either finishes or refuses with
// LOCK_HELD naming the other (never a stack trace, a missing file or a half-written output), and after
// one more run the outputs are byte-identical to a single uninterrupted run (docs/reliability.md).

const setup = useReliabilityStudy();

function stageArgs(stage: 'extract' | 'capture', experiment: string): string[] {
  return setup.commands[stage](experiment);
}

function expectFinishedOrRefused(result: BinaryResult): void {
  expect(result.stderr).not.toContain('unexpected error');
  expect(result.stderr).not.toMatch(/\n\s+at /);
  if (result.code !== 0) {
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toContain('LOCK_HELD');
    expect(result.stderr).toMatch(/process \d+ on /);
  }
}

describe('two processes on one experiment', () => {
  it.each(['extract', 'capture'] as const)(
    '%s: one works, the other finishes or refuses cleanly; outputs intact',
    { timeout: 600_000 },
    async (stage) => {
      const env = { TRAITLENS_CACHE: setup.study.cache };
      const reference = await mkdtemp(join(setup.study.root, 'reference-'));
      const single = await runBinary(stageArgs(stage, reference), env);
      expectSuccess(single);
      const expected = await snapshotDirectory(reference);

      const experiment = await mkdtemp(join(setup.study.root, 'shared-'));
      const [a, b] = await Promise.all([
        runBinary(stageArgs(stage, experiment), env),
        runBinary(stageArgs(stage, experiment), env),
      ]);
      expectFinishedOrRefused(a!);
      expectFinishedOrRefused(b!);
      expect([a!.code, b!.code]).toContain(0);
      const again = await runBinary(stageArgs(stage, experiment), env);
      expectSuccess(again);
      expect(await snapshotDirectory(experiment)).toEqual(expected);
    },
  );

  it('steer: two processes on one trait both finish and lose no run (per-run files)', {
    timeout: 600_000,
  }, async () => {
    const env = { TRAITLENS_CACHE: setup.study.cache };
    const extraction = await mkdtemp(join(setup.study.root, 'vectors-'));
    expectSuccess(await runBinary(stageArgs('extract', extraction), env));
    const vectors = reliabilityVectors(extraction);
    const steer = (experiment: string) => setup.commands.steer(experiment, vectors);
    const reference = await mkdtemp(join(setup.study.root, 'steer-reference-'));
    const single = await runBinary(steer(reference), env);
    expectSuccess(single);
    const expected = await snapshotDirectory(reference);
    const experiment = await mkdtemp(join(setup.study.root, 'steer-shared-'));
    const [a, b] = await Promise.all([runBinary(steer(experiment), env), runBinary(steer(experiment), env)]);
    expect(a!.code, a!.stderr).toBe(0);
    expect(b!.code, b!.stderr).toBe(0);
    const again = await runBinary(steer(experiment), env);
    expectSuccess(again);
    expect(await snapshotDirectory(experiment)).toEqual(expected);
  });

  it('analyze: two processes on one experiment both finish; analysis files equal a single run', {
    timeout: 600_000,
  }, async () => {
    const env = { TRAITLENS_CACHE: setup.study.cache };
    const experiment = await mkdtemp(join(setup.study.root, 'analyze-'));
    for (const stage of ['extract', 'capture'] as const) {
      const done = await runBinary(stageArgs(stage, experiment), env);
      expectSuccess(done);
    }
    const analyze = setup.commands.analyze(experiment);
    const single = await runBinary(analyze, env);
    expectSuccess(single);
    const expected = await snapshotDirectory(join(experiment, 'analysis'));
    expect(Object.keys(expected).length).toBeGreaterThan(0);
    await rm(join(experiment, 'analysis'), { recursive: true });
    const [a, b] = await Promise.all([runBinary(analyze, env), runBinary(analyze, env)]);
    expect(a!.code, a!.stderr).toBe(0);
    expect(b!.code, b!.stderr).toBe(0);
    expect(await snapshotDirectory(join(experiment, 'analysis'))).toEqual(expected);
  });

  it('a second extract refuses at once with LOCK_HELD while a live process holds the trait', {
    timeout: 600_000,
  }, async () => {
    const experiment = await mkdtemp(join(setup.study.root, 'held-'));
    const lock = await acquireFileLock(join(experiment, 'extraction', 'tinystories', 'happiness', '.lock'), {
      purpose: 'extract tinystories/happiness (test holder)',
    });
    try {
      const refused = await runBinary(stageArgs('extract', experiment), {
        TRAITLENS_CACHE: setup.study.cache,
      });
      expect(refused.code, refused.stderr).toBe(1);
      expect(refused.stderr).toContain('LOCK_HELD');
      expect(refused.stderr).toContain(`process ${process.pid} on`);
      expect(refused.stderr).toContain('test holder');
      expect(refused.stderr).not.toMatch(/\n\s+at /);
    } finally {
      await lock.release();
    }
  });

  // The lock each stage takes: extract per trait, capture per variant, prompt set and exact prompts.
  const lockPaths = {
    extract: (experiment: string) => join(experiment, 'extraction', 'tinystories', 'happiness', '.lock'),
    capture: (experiment: string) => {
      const ids = JSON.stringify(['1', '2', '3', '4', '5', '6']);
      const hash = createHash('sha256').update(ids).digest('hex').slice(0, 12);
      return join(experiment, 'inference', 'base', 'prompts', `.capture-${hash}.lock`);
    },
  };

  it.each(['extract', 'capture'] as const)(
    '%s --lock-wait waits for the holder and then runs; a short wait ends in LOCK_HELD',
    { timeout: 600_000 },
    async (stage) => {
      const env = { TRAITLENS_CACHE: setup.study.cache };
      const experiment = await mkdtemp(join(setup.study.root, 'lock-wait-'));
      const lock = await acquireFileLock(lockPaths[stage](experiment), {
        purpose: `${stage} (test holder)`,
      });
      let released = false;
      try {
        const short = await runBinary([...stageArgs(stage, experiment), '--lock-wait', '1'], env);
        expect(short.code, short.stderr).toBe(1);
        expect(short.stderr).toContain('waiting up to 1 s (--lock-wait)');
        expect(short.stderr).toContain('LOCK_HELD');
        expect(short.stderr).not.toMatch(/\n\s+at /);

        // Released only once the second process says it is waiting, so it must have waited to succeed.
        const waited = await runBinary([...stageArgs(stage, experiment), '--lock-wait', '600'], env, {
          onStderr: (stderr) => {
            if (!released && stderr.includes('waiting up to 600 s (--lock-wait)')) {
              released = true;
              void lock.release();
            }
          },
        });
        expect(released, waited.stderr).toBe(true);
        expect(waited.code, waited.stderr).toBe(0);
        expect(waited.stderr).toContain(`process ${process.pid} on`);
      } finally {
        await lock.release();
      }
    },
  );

  describe('replay, label and report, each from a copy of an experiment with extract and capture done', () => {
    const env = () => ({ TRAITLENS_CACHE: setup.study.cache });
    let prepared: string;
    beforeAll(async () => {
      prepared = await mkdtemp(join(setup.study.root, 'prepared-'));
      for (const stage of ['extract', 'capture'] as const) {
        const done = await runBinary(stageArgs(stage, prepared), env());
        expectSuccess(done);
      }
      expectSuccess(await runBinary(setup.commands.analyze(prepared), env()));
    }, 600_000);
    // One folder name for every copy: the report's title names the experiment folder.
    const copyOfPrepared = async () => {
      const experiment = join(await mkdtemp(join(setup.study.root, 'copy-')), 'experiment');
      await mkdir(experiment);
      await cp(prepared, experiment, { recursive: true });
      return experiment;
    };
    it.each(['replay', 'label', 'report'] as const)(
      '%s: two processes at once finish or refuse cleanly; after one more run the files equal a single run',
      { timeout: 600_000 },
      async (stage) => {
        const reference = await copyOfPrepared();
        const single = await runBinary(setup.commands[stage](reference), env());
        expectSuccess(single);
        const expected = await snapshotDirectory(reference);
        const experiment = await copyOfPrepared();
        const [a, b] = await Promise.all([
          runBinary(setup.commands[stage](experiment), env()),
          runBinary(setup.commands[stage](experiment), env()),
        ]);
        expectFinishedOrRefused(a!);
        expectFinishedOrRefused(b!);
        expect([a!.code, b!.code]).toContain(0);
        // Only the replay takes a lock; label and report both finish.
        if (stage !== 'replay') expect([a!.code, b!.code], `${a!.stderr}\n${b!.stderr}`).toEqual([0, 0]);
        const again = await runBinary(setup.commands[stage](experiment), env());
        expectSuccess(again);
        expect(await snapshotDirectory(experiment)).toEqual(expected);
      },
    );
  });
});
