import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TraitlensError } from '../errors/traitlens-error';
import { fitLogisticRegression, predictLogisticProbabilities } from './logistic-regression';

// sklearn's LogisticRegression (newton-cholesky, tol 1e-14) at C = 1 and 0.3, written by
// tools/analysis/generate-statistics-references.py; analysis' statistics tests read the same file.
const references = JSON.parse(
  readFileSync(
    join(import.meta.dirname, '../../../analysis/src/stats/__fixtures__/statistics-references.json'),
    'utf8',
  ),
) as {
  logistic: {
    features: number[][];
    labels: number[];
    fits: { C: number; coefficients: number[]; intercept: number; probabilities: number[] }[];
  };
};

const { features, labels, fits } = references.logistic;
const matrix = { rows: features.length, columns: features[0]!.length, values: features.flat() };

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++)
    expect(Math.abs(actual[i]! - expected[i]!)).toBeLessThanOrEqual(
      tolerance * Math.max(1, Math.abs(expected[i]!)),
    );
}

describe('fitLogisticRegression', () => {
  it('equals sklearn at C = 1 and 0.3 (coefficients, intercept and probabilities to 1e-9)', () => {
    for (const fit of fits) {
      const model = fitLogisticRegression(matrix, labels, { inverseRegularization: fit.C });
      expect(model.converged).toBe(true);
      expectClose(model.coefficients, fit.coefficients, 1e-9);
      expectClose([model.intercept], [fit.intercept], 1e-9);
      expectClose(predictLogisticProbabilities(model, matrix), fit.probabilities, 1e-9);
      // The decision values it returns are the training rows' w.x + b.
      expectClose(
        predictLogisticProbabilities(model, matrix),
        Array.from(model.decisionValues, (z) => 1 / (1 + Math.exp(-z))),
        1e-12,
      );
    }
  });

  it('depends on the features only through their Gram matrix (what the probe fits on a factor of it)', () => {
    // Rotating the feature space (columns 0 and 1 by 0.7 rad) keeps every inner product, so the
    // decision values and the intercept must not move.
    const [cos, sin] = [Math.cos(0.7), Math.sin(0.7)];
    const rotated = features.flatMap(([a, b, ...rest]) => [
      cos * a! - sin * b!,
      sin * a! + cos * b!,
      ...rest,
    ]);
    const original = fitLogisticRegression(matrix, labels);
    const turned = fitLogisticRegression({ ...matrix, values: rotated }, labels);
    expectClose(turned.decisionValues, original.decisionValues, 1e-10);
    expectClose([turned.intercept], [original.intercept], 1e-10);
  });

  it('without an intercept fits through the origin (intercept 0, a different optimum)', () => {
    const model = fitLogisticRegression(matrix, labels, { fitIntercept: false });
    expect(model.converged).toBe(true);
    expect(model.intercept).toBe(0);
    expect(model.coefficients).toHaveLength(features[0]!.length);
    expect(Math.abs(model.coefficients[0]! - fits[0]!.coefficients[0]!)).toBeGreaterThan(1e-6);
  });

  it('refuses a label count that differs from the rows, and a C that is not positive', () => {
    expect(() => fitLogisticRegression(matrix, labels.slice(1))).toThrow(TraitlensError);
    expect(() => fitLogisticRegression(matrix, labels, { inverseRegularization: 0 })).toThrow(
      /must be positive/,
    );
  });
});
