import { TraitlensError } from '@traitlens/core';
import { createFakeLanguageModel } from '@traitlens/model-runtime/testing';
import { describe, expect, it } from 'vitest';
import { buildSteeringSpecs } from './build-steering-specs';
import { generateSteered } from './generate-steered';
import type { SteeringConfiguration } from './steering-configuration';

const vectorA = Float32Array.from([1, 0, 0, 0, 0, 0, 0, 0]);
const vectorB = Float32Array.from([0, 1, 0, 0, 0, 0, 0, 0]);

describe('buildSteeringSpecs', () => {
  it('gives each distinct (point, vector, mode, positions) one spec with a per-row coefficient', () => {
    const rows: SteeringConfiguration[] = [
      [
        {
          point: { layer: 1, site: 'resid_post' },
          mode: 'add',
          vector: vectorA,
          coefficient: 2,
          positions: 'all',
        },
      ],
      [
        {
          point: { layer: 1, site: 'resid_post' },
          mode: 'add',
          vector: vectorA,
          coefficient: 3,
          positions: 'all',
        },
      ],
      [
        {
          point: { layer: 2, site: 'resid_post' },
          mode: 'add',
          vector: vectorB,
          coefficient: -4,
          positions: 'all',
        },
      ],
      [],
      [
        {
          point: { layer: 1, site: 'resid_post' },
          mode: 'add',
          vector: vectorA,
          coefficient: 5,
          positions: 'response',
        },
        {
          point: { layer: 2, site: 'resid_post' },
          mode: 'ablate',
          vector: vectorB,
          coefficient: 1,
          positions: 'all',
        },
      ],
    ];
    const specs = buildSteeringSpecs(rows);
    expect(specs.map((spec) => [spec.point.layer, spec.mode, spec.positions, spec.coefficient])).toEqual([
      [1, 'add', 'all', [2, 3, 0, 0, 0]],
      [2, 'add', 'all', [0, 0, -4, 0, 0]],
      [1, 'add', 'response', [0, 0, 0, 0, 5]],
      [2, 'ablate', 'all', [0, 0, 0, 0, 1]],
    ]);
  });

  it('keeps a repeated intervention in one row as a second spec instead of summing it', () => {
    const point = { layer: 0, site: 'resid_post' as const };
    const specs = buildSteeringSpecs([
      [
        { point, mode: 'ablate', vector: vectorA, coefficient: 1, positions: 'all' },
        { point, mode: 'ablate', vector: vectorA, coefficient: 1, positions: 'all' },
      ],
    ]);
    expect(specs).toHaveLength(2);
  });
});

describe('generateSteered', () => {
  it('maps configurations to batch slices and returns results per configuration and prompt', async () => {
    const model = createFakeLanguageModel({
      respond: ({ prompt, steering }) =>
        `${prompt}:${steering
          .filter((entry) => entry.coefficient !== 0)
          .map((entry) => `L${entry.spec.point.layer}x${entry.coefficient}`)
          .join(',')}`,
    });
    const configurations: SteeringConfiguration[] = [
      [],
      [
        {
          point: { layer: 1, site: 'resid_post' },
          mode: 'add',
          vector: vectorA,
          coefficient: 2,
          positions: 'all',
        },
      ],
      [
        {
          point: { layer: 3, site: 'resid_post' },
          mode: 'add',
          vector: vectorA,
          coefficient: 7,
          positions: 'all',
        },
      ],
    ];
    const progress: number[] = [];
    const results = await generateSteered(model, {
      prompts: ['p', 'q'],
      configurations,
      batchSize: 4,
      onBatch: ({ rowsDone }) => progress.push(rowsDone),
    });
    expect(results.map((row) => row.map((result) => result.responseText))).toEqual([
      ['p:', 'q:'],
      ['p:L1x2', 'q:L1x2'],
      ['p:L3x7', 'q:L3x7'],
    ]);
    // 6 rows in batches of 4: two generate calls, both with the same two specs.
    expect(model.generateCalls.map((call) => [call.rows, call.steer.length])).toEqual([
      [4, 2],
      [2, 2],
    ]);
    expect(progress).toEqual([4, 6]);
  });

  it('rejects a vector whose width differs from the model', async () => {
    const model = createFakeLanguageModel({ hiddenSize: 8 });
    const wrong = new Float32Array(16);
    const error = await generateSteered(model, {
      prompts: ['p'],
      configurations: [
        [
          {
            point: { layer: 0, site: 'resid_post' },
            mode: 'add',
            vector: wrong,
            coefficient: 1,
            positions: 'all',
          },
        ],
      ],
    }).catch((caught: unknown) => caught);
    expect(TraitlensError.hasCode(error, 'MODEL_MISMATCH')).toBe(true);
    expect((error as Error).message).toMatch(/16 values but fake:model has hidden size 8/);
  });

  it('rejects a layer the model does not have', async () => {
    const model = createFakeLanguageModel({ layerCount: 4 });
    await expect(
      generateSteered(model, {
        prompts: ['p'],
        configurations: [
          [
            {
              point: { layer: 9, site: 'resid_post' },
              mode: 'add',
              vector: vectorA,
              coefficient: 1,
              positions: 'all',
            },
          ],
        ],
      }),
    ).rejects.toThrow(/Steering layer 9 is out of range/);
  });
});
