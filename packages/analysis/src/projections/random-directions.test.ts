import type { TraitVectorSet } from '@traitlens/core';
import { describe, expect, it } from 'vitest';
import { createSeededRandom } from '../stats/seeded-random';
import { projectTokenActivations } from './project-token-activations';
import { type ProjectionSettings, type ResponseAggregation, resolveTokenRange } from './projection-settings';
import { ProjectionWorkerPool } from './projection-worker-pool';
import { createRandomDirections, type RandomDirections } from './random-directions';
import type { ActivationTensors } from './read-activation-tensors';
import { createVectorBank } from './vector-bank';

const hidden = 20;
const tokenCount = 11;
const random = createSeededRandom(5);
const set: TraitVectorSet = {
  metadata: {
    trait: 't',
    method: 'mean_diff',
    model: 'm',
    site: 'resid_post',
    tokenWindow: 'response[:5]',
    normalisation: 'raw',
    hiddenSize: hidden,
  },
  vectors: new Map(
    [0, 3].map((layer) => [layer, Float32Array.from({ length: hidden }, () => random.nextNormal())]),
  ),
};
const bank = createVectorBank([{ set }]);
const rows = [0, 3].map(() =>
  Float32Array.from({ length: tokenCount * hidden }, () => random.nextNormal() * 3 + 1),
);

function tensors(): ActivationTensors {
  return {
    path: 'memory',
    promptId: 'p',
    variant: 'v',
    part: 'response',
    hiddenSize: hidden,
    tokenIds: Int32Array.from({ length: tokenCount }, (_, i) => i),
    layers: [0, 3].map((layer, position) => ({
      layer,
      dtype: 'F32' as const,
      bytes: new Uint8Array(rows[position]!.slice().buffer),
    })),
  };
}

/** Float64 reference: the aggregation of per-token projections onto each direction. */
function reference(
  settings: ProjectionSettings,
  directions: RandomDirections,
  unit: Float32Array,
  count: number,
): Float64Array {
  const out = new Float64Array(2 * count);
  const [start, end] = resolveTokenRange(settings.aggregation, tokenCount);
  for (let l = 0; l < 2; l++)
    for (let r = 0; r < count; r++) {
      let sum = 0;
      for (let t = start; t < end; t++) {
        let dot = 0;
        let squares = 0;
        const { permutation, signs } = directions.layerMaps[l]!;
        for (let j = 0; j < hidden; j++) {
          const x = rows[l]![t * hidden + j]!;
          dot += rows[l]![t * hidden + permutation[j]!]! * signs[j]! * unit[r * hidden + j]!;
          squares += x * x;
        }
        sum += settings.measure === 'cosine' ? dot / Math.sqrt(squares) : dot;
      }
      out[l * count + r] = sum / (end - start);
    }
  return out;
}

describe('projections onto random directions through the aggregated activation', () => {
  const directions = createRandomDirections({ count: 13, hiddenSize: hidden, layers: 2, seed: 2 });
  const aggregations: ResponseAggregation[] = [
    { kind: 'mean' },
    { kind: 'last' },
    { kind: 'window', start: 1, end: 5 },
    { kind: 'window', start: -4 },
  ];

  it('equal the aggregated per-token projections (scalar and cosine; float32 summary, 1e-5 relative)', () => {
    for (const measure of ['scalar', 'cosine'] as const) {
      for (const aggregation of aggregations) {
        const settings: ProjectionSettings = { measure, centred: false, aggregation, part: 'response' };
        const [start, end] = resolveTokenRange(aggregation, tokenCount);
        const projections = projectTokenActivations(tensors(), bank, {
          random: { directions, start, end, normalise: measure === 'cosine' },
        });
        const expected = reference(settings, directions, directions.unitVectors, directions.count);
        const scale = Math.max(...Array.from(expected, Math.abs));
        expected.forEach((value, i) => {
          expect(Math.abs(projections.randomDots![i]! - value) / scale).toBeLessThan(1e-5);
        });
      }
    }
  });

  it('the worker pool gives the same numbers as the calling thread', async () => {
    const pool = ProjectionWorkerPool.create(1);
    try {
      const request = { directions, start: 2, end: 9, normalise: true };
      const local = projectTokenActivations(tensors(), bank, { random: request });
      const remote = await pool.project(tensors(), bank, { random: request });
      expect(Array.from(remote.randomDots!)).toEqual(Array.from(local.randomDots!));
    } finally {
      await pool.close();
    }
  });

  it('draw unit directions, reproducibly, padded to a multiple of 8 rows', () => {
    const again = createRandomDirections({ count: 13, hiddenSize: hidden, layers: 2, seed: 2 });
    expect(again.unitVectors).toEqual(directions.unitVectors);
    expect(again.layerMaps).toEqual(directions.layerMaps);
    expect([...directions.layerMaps[1]!.permutation].sort((x, y) => x - y)).toEqual(
      Array.from({ length: hidden }, (_, j) => j),
    );
    expect(directions.layerMaps[0]!.permutation).not.toEqual(directions.layerMaps[1]!.permutation);
    expect(directions.rows).toBe(16);
    let squares = 0;
    for (let j = 0; j < hidden; j++) squares += directions.unitVectors[5 * hidden + j]! ** 2;
    expect(squares).toBeCloseTo(1, 6);
    expect(() => createRandomDirections({ count: 0, hiddenSize: 4 })).toThrow(/positive whole number/);
  });
});
