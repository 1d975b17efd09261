import { cosineSimilarity, TraitlensError } from '@traitlens/core';
import { describe, expect, it } from 'vitest';
import { createPlantedActivations } from '../__fixtures__/planted-activations';
import { multiplyMatrixVector } from '../numeric/matrix';
import { computeSummaryStatistics } from '../numeric/summary-statistics';
import { type AnyExtractionMethod, defineExtractionMethod } from './extraction-method';
import { createMethodRegistry, extractionMethods, resolveExtractionMethods } from './index';
import { runExtractionMethod } from './run-extraction-method';
import { createSharedComputations } from './shared-computations';

const highSnr = createPlantedActivations({
  positiveCount: 60,
  negativeCount: 50,
  dimensions: 256,
  signal: 10,
  seed: 7,
});
const wide = createPlantedActivations({
  positiveCount: 24,
  negativeCount: 20,
  dimensions: 2048,
  signal: 40,
  seed: 11,
});

function separation(vector: Float32Array, data: typeof highSnr): number {
  const positive = computeSummaryStatistics(multiplyMatrixVector(data.positive, vector)).mean;
  const negative = computeSummaryStatistics(multiplyMatrixVector(data.negative, vector)).mean;
  return positive - negative;
}

describe('built-in extraction methods on a planted direction', () => {
  for (const id of ['mean_diff', 'probe', 'gradient', 'pca_diff'] as const) {
    it(`${id} recovers the direction (cos > 0.9), unit norm, sign aligned to positives`, () => {
      for (const data of [highSnr, wide]) {
        const method: AnyExtractionMethod = extractionMethods[id];
        const result = runExtractionMethod(method, data.positive, data.negative);
        expect(result.vector).toHaveLength(data.direction.length);
        expect(cosineSimilarity(result.vector, data.direction)).toBeGreaterThan(0.9);
        expect(Math.hypot(...result.vector)).toBeCloseTo(1, 5);
        expect(separation(result.vector, data)).toBeGreaterThan(0);
      }
    });
  }

  it('random_baseline is seeded, unit norm and unrelated to the data (near-chance separation)', () => {
    const first = runExtractionMethod(extractionMethods.random_baseline, highSnr.positive, highSnr.negative);
    const again = runExtractionMethod(extractionMethods.random_baseline, highSnr.positive, highSnr.negative);
    const other = runExtractionMethod(extractionMethods.random_baseline, highSnr.positive, highSnr.negative, {
      options: { seed: 5 },
    });
    expect(Array.from(again.vector)).toEqual(Array.from(first.vector));
    expect(Array.from(other.vector)).not.toEqual(Array.from(first.vector));
    expect(Math.hypot(...first.vector)).toBeCloseTo(1, 5);
    // A random direction in 256 dimensions has |cos| ~ 1/16 with any fixed direction.
    const cosines = [0, 1, 2, 3, 4, 5, 6, 7].map((seed) =>
      Math.abs(
        cosineSimilarity(
          runExtractionMethod(extractionMethods.random_baseline, highSnr.positive, highSnr.negative, {
            options: { seed },
          }).vector,
          highSnr.direction,
        ),
      ),
    );
    expect(Math.max(...cosines)).toBeLessThan(0.25);
  });

  it('gets weaker, not wrong, at low signal: the sign stays with the positives', () => {
    const low = createPlantedActivations({
      positiveCount: 60,
      negativeCount: 50,
      dimensions: 256,
      signal: 2,
      seed: 3,
    });
    for (const id of ['mean_diff', 'probe', 'gradient', 'pca_diff'] as const) {
      const method: AnyExtractionMethod = extractionMethods[id];
      const result = runExtractionMethod(method, low.positive, low.negative);
      expect(separation(result.vector, low)).toBeGreaterThan(0);
      // Measured cosines at this SNR: 0.66 for the mean-based methods; pca_diff only 0.14, because
      // the noise in 256 dimensions outweighs a weak shared shift in the second moment.
      if (id !== 'pca_diff') expect(cosineSimilarity(result.vector, low.direction)).toBeGreaterThan(0.5);
    }
  });

  it('probe keeps the classifier bias and reports a perfect training fit on separable data', () => {
    const result = runExtractionMethod(extractionMethods.probe, highSnr.positive, highSnr.negative);
    expect(typeof result.bias).toBe('number');
    expect(result.details).toMatchObject({ trainAccuracy: 1, converged: true });
  });

  it('probe handles more samples than dimensions (a rank-deficient Gram matrix)', () => {
    const narrow = createPlantedActivations({
      positiveCount: 80,
      negativeCount: 70,
      dimensions: 12,
      signal: 3,
      seed: 5,
    });
    const result = runExtractionMethod(extractionMethods.probe, narrow.positive, narrow.negative);
    expect(result.details).toMatchObject({ gramRank: 12, converged: true });
    expect(cosineSimilarity(result.vector, narrow.direction)).toBeGreaterThan(0.8);
  });

  it('pca_diff pairs rows by order and leaves the extra rows of the larger class out', () => {
    const result = runExtractionMethod(extractionMethods.pca_diff, highSnr.positive, highSnr.negative);
    expect(result.details).toMatchObject({ pairs: 50, converged: true });
  });

  it('methods share one Gram matrix per layer', () => {
    const shared = createSharedComputations(highSnr.positive, highSnr.negative);
    runExtractionMethod(extractionMethods.probe, highSnr.positive, highSnr.negative, { shared });
    const gram = shared.gramMatrix();
    runExtractionMethod(extractionMethods.pca_diff, highSnr.positive, highSnr.negative, { shared });
    expect(shared.gramMatrix()).toBe(gram);
  });
});

describe('caa', () => {
  it('is the mean paired difference at raw scale (float64 reference, max abs error < 1e-5)', () => {
    const data = createPlantedActivations({
      positiveCount: 40,
      negativeCount: 40,
      dimensions: 64,
      signal: 10,
      seed: 5,
    });
    const result = runExtractionMethod(extractionMethods.caa, data.positive, data.negative);
    // Independent reference: mean over items of (positive row i - negative row i), in float64.
    const { rows, columns } = data.positive;
    const reference = new Float64Array(columns);
    for (let row = 0; row < rows; row++)
      for (let d = 0; d < columns; d++)
        reference[d]! +=
          (data.positive.data[row * columns + d]! - data.negative.data[row * columns + d]!) / rows;
    let maxError = 0;
    for (let d = 0; d < columns; d++)
      maxError = Math.max(maxError, Math.abs(result.vector[d]! - reference[d]!));
    expect(maxError).toBeLessThan(1e-5);
    expect(Math.hypot(...result.vector)).not.toBeCloseTo(1, 2);
    expect(cosineSimilarity(result.vector, data.direction)).toBeGreaterThan(0.9);
    expect(extractionMethods.caa.normalisation).toBe('raw');
  });
});

describe('method registry', () => {
  const projectionOnFirstAxis = defineExtractionMethod<{ axis: number }>({
    id: 'axis',
    summary: 'test-only: a basis vector',
    normalisation: 'unit',
    defaultOptions: { axis: 0 },
    extract(positive, _negative, options) {
      const vector = new Float32Array(positive.columns);
      vector[options.axis] = 1;
      return { vector, details: { axis: options.axis } };
    },
  });

  it('merges user methods without touching the defaults', () => {
    const registry = createMethodRegistry({ axis: projectionOnFirstAxis });
    expect(Object.keys(registry)).toEqual([
      'mean_diff',
      'probe',
      'gradient',
      'pca_diff',
      'random_baseline',
      'caa',
      'axis',
    ]);
    expect('axis' in extractionMethods).toBe(false);
    const [method] = resolveExtractionMethods(['axis'], registry);
    expect(
      runExtractionMethod(method!, highSnr.positive, highSnr.negative, { options: { axis: 3 } }).vector[3],
    ).toBe(1);
  });

  it('rejects unknown ids with the list of available ones, and keys that differ from ids', () => {
    const error = (() => {
      try {
        resolveExtractionMethods(['mean_dif']);
      } catch (caught) {
        return caught;
      }
    })();
    expect(TraitlensError.hasCode(error, 'UNKNOWN_METHOD')).toBe(true);
    expect((error as Error).message).toBe(
      'Unknown extraction method "mean_dif". Available: mean_diff, probe, gradient, pca_diff, random_baseline, caa.',
    );
    expect(() => createMethodRegistry({ other: projectionOnFirstAxis })).toThrow(
      'registered as "other" has id "axis"',
    );
  });
});
