import { TraitlensError } from '@traitlens/core';
import { describe, expect, it } from 'vitest';
import type { ModelConfig, SteeringSpec } from './model-types';
import { validateSteeringSpec } from './steering-feeds';

const config = { layerCount: 4, hiddenSize: 3 } as ModelConfig;
const spec = (coefficient: unknown): SteeringSpec =>
  ({
    point: { site: 'resid_post', layer: 1 },
    vector: new Float32Array([1, 0, 0]),
    coefficient,
  }) as SteeringSpec;

describe('validateSteeringSpec', () => {
  it.each([
    [Number.NaN, 'NaN'],
    [Number.POSITIVE_INFINITY, 'Infinity'],
    [[1, Number.NaN], 'NaN'],
    [
      [
        [0, 1],
        [2, Number.NEGATIVE_INFINITY],
      ],
      '-Infinity',
    ],
    [undefined, 'undefined'],
  ])('refuses the coefficient %s before anything runs', (coefficient, shown) => {
    let error: unknown;
    try {
      validateSteeringSpec(spec(coefficient), config, 2);
    } catch (caught) {
      error = caught;
    }
    expect(TraitlensError.hasCode(error, 'INVALID_ARGUMENT')).toBe(true);
    expect((error as Error).message).toContain(
      `resid_post.1 is ${shown}; a coefficient must be a finite number`,
    );
  });

  it('accepts finite scalar, per-row and per-token coefficients', () => {
    expect(() => validateSteeringSpec(spec(-4.5), config, 2)).not.toThrow();
    expect(() => validateSteeringSpec(spec([0, 2]), config, 2)).not.toThrow();
    expect(() => validateSteeringSpec(spec([[0, 1], [2]]), config, 2)).not.toThrow();
  });
});
