import { cp, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCliCaptured as capture } from '../__fixtures__/run-cli-captured';

const repositoryRoot = join(import.meta.dirname, '..', '..', '..', '..');
const shipped = join(repositoryRoot, 'datasets', 'traits');
const fixture = join(
  repositoryRoot,
  'packages',
  'extraction',
  'src',
  '__fixtures__',
  'datasets',
  'study-format',
  'toy',
  'generosity',
);

describe('traitlens datasets validate', () => {
  it('passes every shipped data set', async () => {
    const result = await capture(['datasets', 'validate', shipped]);
    expect(result.stderr).toMatch(/^\d+ data sets checked: 0 errors, \d+ warnings?\.\n$/);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('ok ');
  });

  it('fails on a broken copy with file:line messages and a non-zero exit code', async () => {
    const root = await mkdtemp(join(tmpdir(), 'traitlens-cli-datasets-'));
    const folder = join(root, 'toy', 'generosity');
    await cp(fixture, folder, { recursive: true });
    await writeFile(join(folder, 'negative.txt'), 'one\n\ntwo\ntwo\n');
    await writeFile(join(folder, 'steering.json'), '{"questions": ["a",]}');
    const cwd = process.cwd();
    process.chdir(root);
    try {
      const result = await capture(['datasets', 'validate', '.']);
      expect(result.code).toBe(1);
      expect(result.stdout.split('\n')).toEqual([
        'toy/generosity/negative.txt:2: error: line 2 is empty; remove it (one prompt per line, and a blank line shifts the positive/negative pairing).',
        'toy/generosity/negative.txt:4: error: line 4 repeats line 3; remove the duplicate (a repeated prompt counts twice in the class mean).',
        'toy/generosity/positive.txt: warning: classes differ in size: 20 positive vs 3 negative prompts (fine for mean_diff and probe; pca_diff pairs only the first 3 of each).',
        'toy/generosity/negative.txt: warning: only 3 prompts; the validation split (last 20%) would hold 1 — aim for 100+ (the study used ~150 pairs).',
        "toy/generosity/steering.json:1:20: error: steering.json is not valid JSON: trailing comma before ']'.",
        '',
      ]);
      expect(result.stderr).toContain(
        'traitlens: 1 data set checked: 3 errors, 2 warnings. Failed: toy/generosity.',
      );
      expect(result.stderr).toContain(
        '(error INVALID_DATASET; see https://github.com/traitlens/traitlens/blob/main/docs/errors/INVALID_DATASET.md)',
      );
    } finally {
      process.chdir(cwd);
    }
  });

  it('--strict also fails on warnings', async () => {
    const root = await mkdtemp(join(tmpdir(), 'traitlens-cli-datasets-'));
    await cp(fixture, join(root, 'toy', 'generosity'), { recursive: true });
    await writeFile(join(root, 'toy', 'generosity', 'positive.txt'), 'only one prefix that ends with a\n');
    await writeFile(join(root, 'toy', 'generosity', 'negative.txt'), 'only one prefix that ends without a\n');
    expect((await capture(['datasets', 'validate', root])).code).toBe(0);
    expect((await capture(['datasets', 'validate', '--strict', root])).code).toBe(1);
  });
});
