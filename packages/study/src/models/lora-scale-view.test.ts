import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LanguageModel, loadModel } from '@traitlens/model-runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTinyOrganism, type TinyOrganism } from './create-tiny-organism';
import { createLoraScaleView } from './lora-scale-view';

describe('createLoraScaleView on the tiny organism', () => {
  let directory: string;
  let organism: TinyOrganism;
  let adapted: LanguageModel;
  let plain: LanguageModel;
  const prompt = [{ role: 'user', content: 'Tell me about the harbour and the boats.' }];

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'traitlens-organism-'));
    organism = await createTinyOrganism(directory, {
      seed: 3,
      hiddenSize: 64,
      layerCount: 4,
      plantLayer: 1,
      plantedWord: ' robot',
      plantStrength: 12,
      rank: 4,
    });
    adapted = await loadModel(organism.instruct, { lora: { source: organism.lora } });
    plain = await loadModel(organism.instruct);
  });

  afterAll(async () => {
    await adapted?.dispose();
    await plain?.dispose();
    await rm(directory, { recursive: true, force: true });
  });

  it('at scale 0 is the model without the adapter, at scale 1 the adapted model', async () => {
    const [clean] = await createLoraScaleView(adapted, 0).score(prompt);
    const [reference] = await plain.score(prompt);
    const [withAdapter] = await createLoraScaleView(adapted, 1).score(prompt);
    const [defaultScale] = await adapted.score(prompt);
    const maxDifference = (a: Float32Array, b: Float32Array) =>
      Math.max(...a.map((value, i) => Math.abs(value - b[i]!)));
    expect(maxDifference(clean!, reference!)).toBeLessThan(1e-4);
    expect(maxDifference(withAdapter!, defaultScale!)).toBeLessThan(1e-4);
    expect(maxDifference(clean!, withAdapter!)).toBeGreaterThan(1e-3);
  });

  it('generates like the model without the adapter at scale 0', async () => {
    const [viewed] = await createLoraScaleView(adapted, 0).generate([prompt], { maxNewTokens: 12 });
    const [reference] = await plain.generate([prompt], { maxNewTokens: 12 });
    expect(viewed!.responseTokenIds).toEqual(reference!.responseTokenIds);
  });

  it('plants the word in the adapter only and refuses a word that is not one token', async () => {
    await expect(
      createTinyOrganism(join(directory, 'other'), {
        seed: 3,
        hiddenSize: 64,
        layerCount: 4,
        plantLayer: 1,
        plantedWord: ' chocolate',
        plantStrength: 12,
        rank: 4,
      }),
    ).rejects.toThrow(/" chocolate" is not one token of the tiny tokenizer; use one of .*" robot"/);
  });
});
