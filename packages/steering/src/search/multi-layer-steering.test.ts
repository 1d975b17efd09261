import { cosineSimilarity } from '@traitlens/core';
import { l2Norm } from '@traitlens/core/internal';
import { describe, expect, it } from 'vitest';
import { combineLayerSteering } from './multi-layer-steering';

describe('combineLayerSteering', () => {
  const a = Float32Array.from([2, 0, 0]);
  const b = Float32Array.from([1, 1, 0]);
  const c = Float32Array.from([4, 0, 0]);

  it('weights the original vectors by each layer best coefficient', () => {
    const combination = combineLayerSteering(
      [
        { layer: 3, vector: a, coefficient: 4 },
        { layer: 5, vector: b, coefficient: 2.5 },
      ],
      'weighted',
    );
    expect(combination.layers.map((entry) => [entry.layer, entry.coefficient, entry.vector])).toEqual([
      [3, 4, a],
      [5, 2.5, b],
    ]);
  });

  it('orthogonalises later vectors against earlier ones, keeping their norms, and drops parallel ones', () => {
    const combination = combineLayerSteering(
      [
        { layer: 3, vector: a, coefficient: 4 },
        { layer: 5, vector: b, coefficient: 2.5 },
        { layer: 7, vector: c, coefficient: 1 },
      ],
      'orthogonal',
    );
    expect(combination.layers.map((entry) => entry.layer)).toEqual([3, 5]);
    expect(combination.droppedLayers).toEqual([7]);
    const second = combination.layers[1]!.vector;
    expect(cosineSimilarity(second, a)).toBeCloseTo(0, 7);
    expect(l2Norm(second)).toBeCloseTo(Math.SQRT2, 6);
    expect(second[0]).toBeCloseTo(0, 6);
    expect(second[2]).toBeCloseTo(0, 6);
  });

  it('needs two layers', () => {
    expect(() => combineLayerSteering([{ layer: 1, vector: a, coefficient: 1 }], 'weighted')).toThrow(
      /at least two layers/,
    );
  });
});
