import { loadModel } from '@traitlens/model-runtime';
import { createTinyModel } from '@traitlens/model-runtime/testing';
import { describe, expect, it } from 'vitest';
import { generateSteered } from '../src/steered-generation/generate-steered';
import type { SteeringConfiguration } from '../src/steered-generation/steering-configuration';
import { testCacheDirectory } from './shared-models';

function seededVector(size: number, seed: number): Float32Array {
  return Float32Array.from({ length: size }, (_, index) => Math.sin(seed * 7.1 + index * 1.3));
}

describe('generateSteered on a real runtime model', () => {
  it('gives every configuration of a mixed batch the same tokens as running it alone', async () => {
    const tiny = await createTinyModel({ layerCount: 3, chatTemplate: null });
    const model = await loadModel(tiny.directory, { cacheDirectory: testCacheDirectory, threads: 1 });
    try {
      const hidden = model.config.hiddenSize;
      const v1 = seededVector(hidden, 1);
      const v2 = seededVector(hidden, 2);
      const configurations: SteeringConfiguration[] = [
        [],
        [
          {
            point: { layer: 0, site: 'resid_post' },
            mode: 'add',
            vector: v1,
            coefficient: 6,
            positions: 'all',
          },
        ],
        [
          {
            point: { layer: 2, site: 'resid_post' },
            mode: 'add',
            vector: v2,
            coefficient: -4,
            positions: 'response',
          },
        ],
        [
          {
            point: { layer: 0, site: 'resid_post' },
            mode: 'add',
            vector: v1,
            coefficient: 3,
            positions: 'all',
          },
          {
            point: { layer: 1, site: 'resid_mid' },
            mode: 'ablate',
            vector: v2,
            coefficient: 1,
            positions: 'all',
          },
        ],
      ];
      const prompts = ['The robot walked to the', 'One day a storm'];
      const generation = { maxNewTokens: 8 };
      const mixed = await generateSteered(model, { prompts, configurations, generation, batchSize: 5 });
      for (const [index, configuration] of configurations.entries()) {
        const [alone] = await generateSteered(model, {
          prompts,
          configurations: [configuration],
          generation,
        });
        expect(mixed[index]!.map((result) => result.responseTokenIds)).toEqual(
          alone!.map((result) => result.responseTokenIds),
        );
      }
      // Steering changes the text: the strongest configuration differs from the unsteered one.
      expect(mixed[1]!.map((result) => result.responseText)).not.toEqual(
        mixed[0]!.map((result) => result.responseText),
      );
    } finally {
      await model.dispose();
      await tiny.remove();
    }
  });

  it('runs a repeated ablation of one direction as one ablation (twice at c = 1 equals once)', async () => {
    const tiny = await createTinyModel({ layerCount: 3, chatTemplate: null });
    const model = await loadModel(tiny.directory, { cacheDirectory: testCacheDirectory, threads: 1 });
    try {
      const vector = seededVector(model.config.hiddenSize, 3);
      const ablate = {
        point: { layer: 1, site: 'resid_post' as const },
        mode: 'ablate' as const,
        vector,
        coefficient: 1,
        positions: 'all' as const,
      };
      const prompts = ['The robot walked to the', 'One day a storm'];
      const [once, twice, summed] = await generateSteered(model, {
        prompts,
        configurations: [[ablate], [ablate, ablate], [{ ...ablate, coefficient: 2 }]],
        generation: { maxNewTokens: 8, logprobs: true },
      });
      // Tolerance: composed, the repeated ablation feeds the same coefficient (1 - (1-1)(1-1) = 1) as
      // the single one, so tokens are equal and log-probabilities agree to float32 rounding (1e-5).
      for (const [index, result] of twice!.entries()) {
        expect(result.responseTokenIds).toEqual(once![index]!.responseTokenIds);
        const reference = once![index]!.tokenLogprobs!;
        for (const [step, value] of result.tokenLogprobs!.entries())
          expect(Math.abs(value - reference[step]!)).toBeLessThan(1e-5);
      }
      // Summed coefficients (the bug this guards against) would be c = 2, which reflects the component
      // instead of removing it and changes the log-probabilities.
      expect(summed!.map((result) => result.tokenLogprobs)).not.toEqual(
        once!.map((result) => result.tokenLogprobs),
      );
    } finally {
      await model.dispose();
      await tiny.remove();
    }
  });
});
