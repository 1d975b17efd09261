import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSeededRandom, experimentLayout, readTraitVectors, writeActivationFile } from '@traitlens/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { modelDiffVectorsPath, writeModelDiffVectors } from './write-model-diff-vectors';

const hidden = 6;
const layers = [0, 1, 2];
const promptCount = 5;

describe('writeModelDiffVectors', () => {
  let experiment: string;
  // Float64 reference: mean over prompts of the mean over response tokens of (changed - base).
  const reference = new Map<number, Float64Array>(layers.map((layer) => [layer, new Float64Array(hidden)]));

  beforeAll(async () => {
    experiment = await mkdtemp(join(tmpdir(), 'traitlens-model-diff-'));
    const generator = createSeededRandom(11);
    const random = () => generator.nextUniform();
    for (const variant of ['clean', 'lora']) {
      await mkdir(experimentLayout(experiment).inference(variant, 'set').activations, { recursive: true });
    }
    for (let prompt = 0; prompt < promptCount; prompt++) {
      const responseTokens = 2 + prompt; // different lengths: each prompt weighs the same
      const promptTokenIds = Int32Array.from([1, 5, 9]);
      const responseTokenIds = Int32Array.from({ length: responseTokens }, (_, i) => 10 + i);
      const base = new Map<string, Float32Array>();
      const changed = new Map<string, Float32Array>();
      for (const layer of layers) {
        const a = Float32Array.from({ length: responseTokens * hidden }, () => random() * 2 - 1);
        // Layer 0 is before the change: identical. Later layers move along a direction plus noise.
        const b = Float32Array.from(a, (value, index) =>
          layer === 0 ? value : value + 0.5 * layer * ((index % hidden) - 2) + (random() - 0.5) * 0.1,
        );
        base.set(`response.resid_post.${layer}`, a);
        changed.set(`response.resid_post.${layer}`, b);
        const sum = reference.get(layer)!;
        for (let t = 0; t < responseTokens; t++)
          for (let d = 0; d < hidden; d++)
            sum[d]! += (b[t * hidden + d]! - a[t * hidden + d]!) / responseTokens / promptCount;
      }
      for (const [variant, activations] of [
        ['clean', base],
        ['lora', changed],
      ] as const) {
        await writeActivationFile(
          join(experimentLayout(experiment).inference(variant, 'set').activations, `${prompt}.safetensors`),
          {
            variant,
            model: 'test/model',
            promptId: String(prompt),
            promptTokenIds,
            responseTokenIds,
            hiddenSize: hidden,
            activations,
            dtype: 'F32',
          },
        );
      }
    }
  });

  afterAll(async () => {
    await rm(experiment, { recursive: true, force: true });
  });

  it('writes the mean per-prompt difference as an ordinary vector file (max abs error vs float64 < 1e-6)', async () => {
    const result = await writeModelDiffVectors({
      experiment,
      baseVariant: 'clean',
      changedVariant: 'lora',
      promptSets: ['set'],
    });
    expect(result).toMatchObject({ prompts: promptCount, layers: [1, 2], identicalLayers: [0] });
    expect(result.file).toBe(modelDiffVectorsPath(experiment, 'lora', 'clean'));
    const file = await readTraitVectors(result.file);
    expect(file.metadata).toMatchObject({
      trait: 'model-diff/lora-minus-clean',
      method: 'mean_diff',
      normalisation: 'raw',
      site: 'resid_post',
      hiddenSize: hidden,
    });
    for (const layer of [1, 2]) {
      const vector = file.vectors.get(layer)!;
      const expected = reference.get(layer)!;
      let error = 0;
      for (let d = 0; d < hidden; d++) error = Math.max(error, Math.abs(vector[d]! - expected[d]!));
      expect(error).toBeLessThan(1e-6);
    }
    expect(file.vectors.has(0)).toBe(false);
  });

  it('refuses when no prompt has activations of both variants', async () => {
    await expect(
      writeModelDiffVectors({
        experiment,
        baseVariant: 'clean',
        changedVariant: 'lora',
        promptSets: ['nothing'],
      }),
    ).rejects.toThrow(/No activations for variant "clean" and prompt set "nothing"/);
  });
});
