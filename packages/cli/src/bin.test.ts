import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const repositoryRoot = join(import.meta.dirname, '../../..');
const stories = join(repositoryRoot, '../shared/models/stories260k/hf');

/** Runs the binary the way `pnpm traitlens` does: node with tsx, from source. */
function runTraitlens(args: string[]) {
  return spawnSync(
    process.execPath,
    ['--conditions=@traitlens/source', '--import', 'tsx', 'packages/cli/src/bin.ts', ...args],
    {
      cwd: repositoryRoot,
      encoding: 'utf8',
      timeout: 60_000,
    },
  );
}

describe.skipIf(!existsSync(join(stories, 'model.safetensors')))('the traitlens binary', () => {
  it('runs as `pnpm traitlens` does (node + tsx from source) and prints the greedy story', () => {
    const result = runTraitlens(['generate', '--model', stories, '--prompt', '', '--max-new-tokens', '15']);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toBe('Once upon a time, there was a little girl named Lily.\n');
  });

  it('exits 1 with the error message for bad input', () => {
    const result = runTraitlens(['generate', '--model', 'no/such/folder', '--prompt', 'x']);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/Model folder not found: no\/such\/folder/);
  });
});
