import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { promptSetFile, promptSetsDirectory, traitDatasetDirectory, traitDatasetsDirectory } from './index';

describe('@traitlens/datasets', () => {
  it('points at the shipped trait and prompt-set folders', () => {
    expect(readdirSync(traitDatasetsDirectory).sort()).toEqual(['alignment', 'tinystories']);
    expect(existsSync(join(traitDatasetsDirectory, 'alignment', 'sycophancy', 'definition.txt'))).toBe(true);
    expect(existsSync(join(promptSetsDirectory, 'train_100.json'))).toBe(true);
  });

  it('resolves data sets by name and refuses paths', () => {
    expect(traitDatasetDirectory('alignment/sycophancy')).toBe(join(traitDatasetsDirectory, 'alignment', 'sycophancy'));
    expect(traitDatasetDirectory('alignment/no_such_trait')).toBeUndefined();
    expect(traitDatasetDirectory('../etc')).toBeUndefined();
    expect(promptSetFile('test_150')).toBe(join(promptSetsDirectory, 'test_150.json'));
    expect(promptSetFile('../package')).toBeUndefined();
  });
});
