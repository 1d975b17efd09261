import { existsSync, mkdtempSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readTraitVectors } from '@traitlens/core';
import { describe, expect, it } from 'vitest';
import { runCliCaptured as capture } from '../__fixtures__/run-cli-captured';

const repositoryRoot = join(import.meta.dirname, '..', '..', '..', '..');
const stories = join(repositoryRoot, '..', 'shared', 'models', 'stories260k', 'hf');
const hasStories = existsSync(join(stories, 'model.safetensors'));
const hasDataset = existsSync(
  join(repositoryRoot, 'datasets', 'traits', 'tinystories', 'happiness', 'positive.txt'),
);
process.env.TRAITLENS_CACHE ??= mkdtempSync(join(tmpdir(), 'traitlens-cli-cache-'));

describe('traitlens extract', () => {
  it('rejects a malformed trait name or window before loading anything', async () => {
    const bad = await capture([
      'extract',
      '--model',
      'nowhere',
      '--traits',
      'happiness',
      '--datasets',
      join(repositoryRoot, 'datasets', 'traits'),
    ]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(
      '--traits: "happiness" is not <category>/<trait> (e.g. alignment/sycophancy).',
    );
    const window = await capture([
      'extract',
      '--model',
      'nowhere',
      '--traits',
      'a/b',
      '--position',
      'response[five]',
    ]);
    expect(window.stderr).toContain('"response[five]" is not a token window');
    const method = await capture([
      'extract',
      '--model',
      'nowhere',
      '--traits',
      'a/b',
      '--methods',
      'probe,pca',
    ]);
    expect(method.stderr).toContain(
      'Unknown extraction method "pca". Available: mean_diff, probe, gradient, pca_diff, random_baseline',
    );
  });

  it.skipIf(!hasStories || !hasDataset)(
    'extracts tinystories/happiness from stories260k at all 5 layers with every method (resumable)',
    async () => {
      const experiment = await mkdtemp(join(tmpdir(), 'traitlens-cli-extract-'));
      const argv = [
        'extract',
        '--model',
        stories,
        '--traits',
        'tinystories/happiness',
        '--datasets',
        join(repositoryRoot, 'datasets', 'traits'),
        '--experiment',
        experiment,
        '--threads',
        '1',
        '--gguf',
      ];
      const result = await capture(argv);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain('tinystories/happiness (resid_post, response[:5], validation)');
      const folder = join(experiment, 'extraction', 'tinystories', 'happiness');
      const evaluation = JSON.parse(await readFile(join(folder, 'evaluation.json'), 'utf8'));
      expect(Object.keys(evaluation.sites.resid_post.layers)).toEqual(['0', '1', '2', '3', '4']);
      expect(Object.keys(evaluation.sites.resid_post.layers['4'].methods)).toEqual([
        'mean_diff',
        'probe',
        'gradient',
        'pca_diff',
        'random_baseline',
      ]);
      const probe = await readTraitVectors(join(folder, 'vectors', 'probe.safetensors'));
      expect(probe.metadata).toMatchObject({
        method: 'probe',
        site: 'resid_post',
        hiddenSize: 64,
        tokenWindow: 'response[:5]',
      });
      expect(existsSync(join(folder, 'vectors', 'probe.gguf'))).toBe(true);
      const again = await capture(argv);
      expect(again.code).toBe(0);
      expect(JSON.parse(await readFile(join(folder, 'evaluation.json'), 'utf8')).createdAt).toBe(
        evaluation.createdAt,
      );
    },
  );
});
