import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tinyStudyConfig } from '../__fixtures__/cli-process';
import { runCliCaptured } from '../__fixtures__/run-cli-captured';

// The shipped example config: a generated tiny model organism, every stage of the study, no example code.
const configFile = tinyStudyConfig;

describe('traitlens run --plan', () => {
  const folders: string[] = [];
  afterAll(async () => {
    for (const folder of folders) await rm(folder, { recursive: true, force: true });
  });

  it('prints the memory plan of every model load of a tiny-organism study and runs no stage', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'traitlens-run-plan-'));
    folders.push(directory);
    const run = await runCliCaptured(['run', configFile, '--plan', '--output', directory]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^== extract: tiny:base$/m);
    expect(run.stdout).toMatch(/^== steer: tiny:instruct \+ LoRA at scale 0$/m);
    expect(run.stdout).toMatch(/^total\s+\d/m);
    // On the CPU no step copy of the KV cache is planned (the runtime writes one buffer in place).
    expect(run.stdout).toMatch(/^kv cache\s+\d/m);
    expect(run.stdout).not.toMatch(/step copy/);
    await expect(access(join(directory, 'pipeline.json'))).rejects.toThrow();
  });

  it('exits 3 when a planned load does not fit --device-memory', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'traitlens-run-plan-'));
    folders.push(directory);
    const run = await runCliCaptured([
      'run',
      configFile,
      '--plan',
      '--device-memory',
      '1MB',
      '--output',
      directory,
    ]);
    expect(run.code).toBe(3);
    expect(run.stdout).toMatch(/does NOT fit in 1\.00 MB/);
  });
});
