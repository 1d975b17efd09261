import type { Matrix } from '../numeric/matrix';
import { createSeededRandom } from '../numeric/seeded-random';

/** Test-only: synthetic activations with a known trait direction. */
export interface PlantedActivations {
  positive: Matrix;
  negative: Matrix;
  /** The planted unit direction. */
  direction: Float64Array;
}

/**
 * Rows = shared offset (like the large common component of real residual streams) + isotropic noise;
 * positives also get `signal` (+/- 20% per row) times the unit direction.
 */
export function createPlantedActivations(settings: {
  positiveCount: number;
  negativeCount: number;
  dimensions: number;
  signal: number;
  noise?: number;
  offset?: number;
  seed?: number;
}): PlantedActivations {
  // Offset the seed so fixture streams never coincide with a method's own seeded stream.
  const random = createSeededRandom(1_000_003 + (settings.seed ?? 1));
  const { dimensions } = settings;
  const noise = settings.noise ?? 1;
  const direction = new Float64Array(dimensions);
  let norm = 0;
  for (let i = 0; i < dimensions; i++) {
    direction[i] = random.nextNormal();
    norm += direction[i]! ** 2;
  }
  for (let i = 0; i < dimensions; i++) direction[i]! /= Math.sqrt(norm);
  const offset = new Float64Array(dimensions);
  for (let i = 0; i < dimensions; i++) offset[i] = random.nextNormal() * (settings.offset ?? 3);
  const makeRows = (count: number, withSignal: boolean): Matrix => {
    const data = new Float32Array(count * dimensions);
    for (let row = 0; row < count; row++) {
      const strength = withSignal ? settings.signal * (0.8 + 0.4 * random.nextUniform()) : 0;
      for (let i = 0; i < dimensions; i++) {
        data[row * dimensions + i] = offset[i]! + noise * random.nextNormal() + strength * direction[i]!;
      }
    }
    return { rows: count, columns: dimensions, data };
  };
  return {
    positive: makeRows(settings.positiveCount, true),
    negative: makeRows(settings.negativeCount, false),
    direction,
  };
}
