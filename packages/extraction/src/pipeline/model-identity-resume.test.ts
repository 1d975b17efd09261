import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '@traitlens/model-runtime';
import { createTinyModel } from '@traitlens/model-runtime/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { loadTraitDataset } from '../dataset/load-trait-dataset';
import type { ExtractionProgressEvent } from './extraction-progress';
import { runTraitExtraction } from './run-trait-extraction';

// A trait extracted with the model in one folder resumes with a copy of it in another (as on another
// machine): the generation and activation stages are found done, because their keys hold the model's
// content identity, not its path.

const folders: string[] = [];
afterAll(async () => {
  await Promise.all(folders.map((folder) => rm(folder, { recursive: true, force: true })));
});

describe('runTraitExtraction resumes across model folders with the same weights', () => {
  it('skips generation and activations when the same model is loaded from another path', async () => {
    const root = await mkdtemp(join(tmpdir(), 'traitlens-extraction-identity-'));
    folders.push(root);
    const tiny = await createTinyModel({
      directory: join(root, 'a'),
      seed: 4,
      layerCount: 2,
      chatTemplate: null,
    });
    await cp(tiny.directory, join(root, 'elsewhere', 'b'), { recursive: true });
    const trait = join(root, 'datasets', 'toy', 'kindness');
    await mkdir(trait, { recursive: true });
    await writeFile(
      join(trait, 'positive.txt'),
      Array.from({ length: 6 }, (_, i) => `The kind child ${i} shared a toy`).join('\n'),
    );
    await writeFile(
      join(trait, 'negative.txt'),
      Array.from({ length: 6 }, (_, i) => `The mean child ${i} kept a toy`).join('\n'),
    );
    const dataset = await loadTraitDataset(trait);
    const experimentDirectory = join(root, 'experiment');
    const cacheDirectory = join(root, 'cache');
    const run = async (directory: string) => {
      const model = await loadModel(directory, { cacheDirectory, threads: 1 });
      const events: ExtractionProgressEvent[] = [];
      try {
        await runTraitExtraction({
          model,
          dataset,
          experimentDirectory,
          methods: ['mean_diff'],
          generation: { maxNewTokens: 3, batchSize: 6 },
          onProgress: (event) => events.push(event),
        });
      } finally {
        await model.dispose();
      }
      return events;
    };
    await run(tiny.directory);
    const events = await run(join(root, 'elsewhere', 'b'));
    // The last progress event of a stage says whether all of it was found done.
    const last = (stage: string) => events.filter((event) => event.stage === stage).at(-1);
    expect(last('generate')).toMatchObject({ completed: 12, total: 12, skipped: true });
    expect(last('activations')).toMatchObject({ skipped: true });
  });
});
