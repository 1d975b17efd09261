import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  computeAurocOfClasses as computeAuroc,
  computeStudentTTwoSidedPValue,
} from '@traitlens/core/internal';
import { describe, expect, it } from 'vitest';
import type { AnyExtractionMethod } from '../methods/extraction-method';
import { extractionMethods } from '../methods/index';
import { runExtractionMethod } from '../methods/run-extraction-method';
import { createMatrixFromRows, type Matrix } from '../numeric/matrix';
import { computeStudentTTest } from '../numeric/student-t-test';
import { evaluateLayer, type LayerVector } from './evaluate-layer';

/**
 * Goldens from tools/extraction/make-reference-fixtures.py (numpy/scipy/scikit-learn, float64).
 * Tolerances: vectors are stored as float32, so ~1e-6 per component; statistics of float32 vectors
 * agree to ~1e-6 relative.
 */
const referenceDirectory = join(import.meta.dirname, '..', '__fixtures__', 'reference');

interface ReferenceMetrics {
  [key: string]: number | boolean;
}
interface ReferenceCase {
  name: string;
  train: { positive: number[][]; negative: number[][] };
  validation: { positive: number[][]; negative: number[][] };
  vectors: Record<
    string,
    {
      vector: number[];
      bias?: number;
      trainAccuracy?: number;
      coefficientNorm?: number;
      explainedVarianceRatio?: number;
      finalSeparation?: number;
    }
  >;
  probeWithSklearnDefaults: { vector: number[]; bias: number };
  evaluation: Record<string, { validation: ReferenceMetrics; trainAccuracy: number; baseline: number }>;
  activationNorm: number;
}

async function readReference<T>(file: string): Promise<T> {
  return JSON.parse(await readFile(join(referenceDirectory, file), 'utf8')) as T;
}

function maxAbsoluteDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let largest = 0;
  for (let i = 0; i < a.length; i++) largest = Math.max(largest, Math.abs(a[i]! - b[i]!));
  return largest;
}

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    aa += a[i]! ** 2;
    bb += b[i]! ** 2;
  }
  return dot / Math.sqrt(aa * bb);
}

for (const file of ['methods-tall.json', 'methods-wide.json']) {
  describe(`reference case ${file}`, async () => {
    const reference = await readReference<ReferenceCase>(file);
    const positive: Matrix = createMatrixFromRows(reference.train.positive);
    const negative: Matrix = createMatrixFromRows(reference.train.negative);

    it('mean_diff, probe, pca_diff, gradient and random_baseline match the float64 reference', () => {
      for (const [id, expected] of Object.entries(reference.vectors)) {
        const method: AnyExtractionMethod = extractionMethods[id as keyof typeof extractionMethods];
        const result = runExtractionMethod(method, positive, negative);
        expect(maxAbsoluteDifference(result.vector, expected.vector), id).toBeLessThan(
          id === 'gradient' ? 1e-5 : 2e-6,
        );
        if (expected.bias !== undefined) expect(result.bias).toBeCloseTo(expected.bias, 6);
        if (expected.trainAccuracy !== undefined)
          expect(result.details.trainAccuracy).toBe(expected.trainAccuracy);
        if (expected.coefficientNorm !== undefined)
          expect(result.details.coefficientNorm as number).toBeCloseTo(expected.coefficientNorm, 5);
        if (expected.explainedVarianceRatio !== undefined)
          expect(result.details.explainedVarianceRatio as number).toBeCloseTo(
            expected.explainedVarianceRatio,
            8,
          );
        if (expected.finalSeparation !== undefined)
          expect(result.details.finalSeparation as number).toBeCloseTo(expected.finalSeparation, 5);
      }
    });

    it("probe agrees with scikit-learn's default fit (lbfgs, tol 1e-4) to its own tolerance", () => {
      const result = runExtractionMethod(extractionMethods.probe, positive, negative);
      expect(cosine(result.vector, reference.probeWithSklearnDefaults.vector)).toBeGreaterThan(0.99999);
      expect(Math.abs((result.bias ?? 0) - reference.probeWithSklearnDefaults.bias)).toBeLessThan(1e-3);
    });

    it('evaluation metrics match numpy/scipy/sklearn for every reference vector', () => {
      const vectors = new Map<string, LayerVector>(
        Object.entries(reference.vectors).map(([id, value]) => [
          id,
          { vector: Float32Array.from(value.vector), details: {} },
        ]),
      );
      const layer = evaluateLayer(
        {
          train: { positive, negative },
          validation: {
            positive: createMatrixFromRows(reference.validation.positive),
            negative: createMatrixFromRows(reference.validation.negative),
          },
        },
        vectors,
      );
      expect(layer.activationNorm).toBeCloseTo(reference.activationNorm, 4);
      for (const [id, expected] of Object.entries(reference.evaluation)) {
        const actual = layer.methods[id]!;
        expect(actual.trainAccuracy, id).toBe(expected.trainAccuracy);
        expect(actual.baseline).toBeCloseTo(expected.baseline, 5);
        for (const [key, value] of Object.entries(expected.validation)) {
          const got = actual.validation[key as keyof typeof actual.validation];
          if (typeof value === 'boolean' || key === 'accuracy') expect(got, `${id} ${key}`).toBe(value);
          else if (key === 'auroc') expect(got as number, `${id} ${key}`).toBeCloseTo(value, 12);
          else if (key === 'pValue')
            expect(Math.abs((got as number) / value - 1), `${id} ${key}`).toBeLessThan(1e-4);
          else
            expect(Math.abs((got as number) - value), `${id} ${key}`).toBeLessThan(
              1e-5 * Math.max(1, Math.abs(value)),
            );
        }
      }
    });
  });
}

describe('statistics against scipy and scikit-learn', async () => {
  const reference = await readReference<{
    studentT: { t: number; degreesOfFreedom: number; pValue: number }[];
    tTestSamples: { first: number[]; second: number[]; pValue: number }[];
    auroc: { positive: number[]; negative: number[]; auroc: number }[];
  }>('statistics.json');

  it('two-sided Student t p-values agree to 1e-10 relative, deep into the tail', () => {
    for (const { t, degreesOfFreedom, pValue } of reference.studentT) {
      const got = computeStudentTTwoSidedPValue(t, degreesOfFreedom);
      expect(Math.abs(got - pValue) / Math.max(pValue, 1e-300), `t=${t} df=${degreesOfFreedom}`).toBeLessThan(
        1e-10,
      );
    }
    for (const { first, second, pValue } of reference.tTestSamples) {
      expect(Math.abs(computeStudentTTest(first, second).pValue / pValue - 1)).toBeLessThan(1e-9);
    }
  });

  it('AUROC counts ties as half, like roc_auc_score', () => {
    for (const { positive, negative, auroc } of reference.auroc)
      expect(computeAuroc(positive, negative)).toBeCloseTo(auroc, 14);
  });
});
