import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import normalCdf from '@stdlib/stats-base-dists-normal-cdf';
import normalQuantile from '@stdlib/stats-base-dists-normal-quantile';
import tCdf from '@stdlib/stats-base-dists-t-cdf';
import { describe, expect, it } from 'vitest';
import { computeBootstrapConfidenceIntervals } from './bootstrap-confidence-interval';
import { computeCohensD, computePairedCohensD } from './cohens-d';
import { createFeatureMatrix } from './feature-matrix';
import { fitLogisticRegression, predictLogisticProbabilities } from './logistic-regression';
import { computePairedTTest } from './paired-t-test';
import { computePearsonCorrelation, computePointBiserialCorrelation } from './pearson-correlation';
import { runPermutationTest } from './permutation-test';
import { computeQuantile } from './quantile';
import { computeAuroc, computeRocCurve } from './roc-curve';
import { computeMean, computeStandardDeviation, computeVariance, subtractSamples } from './sample-statistics';
import { createSeededRandom } from './seeded-random';
import { createStratifiedFolds } from './stratified-folds';
import { computeTwoSidedTPValue, computeWelchTTest } from './welch-t-test';

interface References {
  samples: { a: number[]; b: number[]; x: number[]; y: number[] };
  descriptive: { meanA: number; varianceA: number; sdA: number; meanB: number; sdB: number };
  cohensD: number;
  pairedCohensD: number;
  welch: { t: number; p: number; degreesOfFreedom: number };
  pairedT: { t: number; p: number; degreesOfFreedom: number };
  pearson: { x: number[]; y: number[]; r: number; p: number };
  pointBiserial: { labels: number[]; values: number[]; r: number; p: number };
  roc: {
    labels: number[];
    scores: number[];
    falsePositiveRates: number[];
    truePositiveRates: number[];
    auroc: number;
  };
  logistic: {
    features: number[][];
    labels: number[];
    fits: { C: number; coefficients: number[]; intercept: number; probabilities: number[] }[];
  };
  quantile: { values: number[]; qs: number[]; expected: number[] };
  tCdf: { t: number; df: number; cdf: number; twoSidedP: number }[];
  normalCdf: { x: number; cdf: number }[];
  normalQuantile: { p: number; quantile: number }[];
  bootstrap: { seed: number; resamples: number; confidence: number; mean: number[]; pairedD: number[] };
  permutation: {
    seed: number;
    permutations: number;
    observed: number;
    pValue: number;
    nullMean: number;
    null95: number;
  };
  folds: { k: number; seed: number; assignment: number[] };
  random: { gaussianSeed42: number[]; uniformSeed1: number[] };
}

// Generated once by tools/analysis/generate-statistics-references.py (numpy, scipy, sklearn).
const references = JSON.parse(
  readFileSync(join(import.meta.dirname, '__fixtures__', 'statistics-references.json'), 'utf8'),
) as References;
const { a, b, x, y } = references.samples;

/** |actual - expected| <= tolerance, with a relative allowance for large magnitudes. */
function expectClose(actual: number, expected: number, tolerance = 1e-9): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(tolerance * Math.max(1, Math.abs(expected)));
}

function expectAllClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance = 1e-9): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) expectClose(actual[i]!, expected[i]!, tolerance);
}

describe('statistics against numpy/scipy/sklearn references (1e-9)', () => {
  it('descriptive statistics', () => {
    expectClose(computeMean(a), references.descriptive.meanA);
    expectClose(computeVariance(a), references.descriptive.varianceA);
    expectClose(computeStandardDeviation(a), references.descriptive.sdA);
    expectClose(computeStandardDeviation(b), references.descriptive.sdB);
  });

  it("Cohen's d, unpaired (pooled sd of two groups) and paired", () => {
    expectClose(computeCohensD(a, b), references.cohensD);
    expectClose(computePairedCohensD(x, y), references.pairedCohensD);
    expect(computeCohensD([1, 1], [1, 1])).toBe(0);
  });

  it('Welch and paired t-tests', () => {
    const welch = computeWelchTTest(a, b);
    expectClose(welch.t, references.welch.t);
    expectClose(welch.degreesOfFreedom, references.welch.degreesOfFreedom);
    expectClose(welch.p, references.welch.p);
    const paired = computePairedTTest(x, y);
    expectClose(paired.t, references.pairedT.t);
    expectClose(paired.p, references.pairedT.p);
    expect(paired.degreesOfFreedom).toBe(references.pairedT.degreesOfFreedom);
  });

  it('Pearson and point-biserial correlation with p-values', () => {
    const pearson = computePearsonCorrelation(references.pearson.x, references.pearson.y);
    expectClose(pearson.r, references.pearson.r);
    expectClose(pearson.p, references.pearson.p);
    const biserial = computePointBiserialCorrelation(
      references.pointBiserial.values,
      references.pointBiserial.labels,
    );
    expectClose(biserial.r, references.pointBiserial.r);
    expectClose(biserial.p, references.pointBiserial.p);
  });

  it('ROC curve and AUROC with tied scores', () => {
    const curve = computeRocCurve(references.roc.scores, references.roc.labels);
    expectAllClose(curve.falsePositiveRates, references.roc.falsePositiveRates);
    expectAllClose(curve.truePositiveRates, references.roc.truePositiveRates);
    expectClose(curve.auroc, references.roc.auroc);
    expectClose(computeAuroc(references.roc.scores, references.roc.labels), references.roc.auroc);
  });

  it('L2 logistic regression equals sklearn (C = 1 and 0.3)', () => {
    const { features, labels, fits } = references.logistic;
    const matrix = createFeatureMatrix(
      features.length,
      features[0]!.length,
      Float64Array.from(features.flat()),
    );
    for (const fit of fits) {
      const model = fitLogisticRegression(matrix, labels, { inverseRegularization: fit.C });
      expect(model.converged).toBe(true);
      // Both sides run Newton's method to convergence, so even the iterative fit agrees to 1e-9.
      expectAllClose(model.coefficients, fit.coefficients);
      expectClose(model.intercept, fit.intercept);
      expectAllClose(predictLogisticProbabilities(model, matrix), fit.probabilities, 1e-9);
    }
  });

  it('quantiles with linear interpolation', () => {
    const { values, qs, expected } = references.quantile;
    expectAllClose(
      qs.map((q) => computeQuantile(values, q)),
      expected,
    );
  });

  it('t and normal distributions from @stdlib', () => {
    for (const row of references.tCdf) {
      expectClose(tCdf(row.t, row.df), row.cdf);
      expectClose(computeTwoSidedTPValue(row.t, row.df), row.twoSidedP);
    }
    for (const row of references.normalCdf) expectClose(normalCdf(row.x, 0, 1), row.cdf);
    for (const row of references.normalQuantile) expectClose(normalQuantile(row.p, 0, 1), row.quantile);
  });

  it('seeded random draws match the Python port', () => {
    const uniform = createSeededRandom(1);
    expectAllClose(
      references.random.uniformSeed1.map(() => uniform.nextUniform()),
      references.random.uniformSeed1,
      0,
    );
    const gaussian = createSeededRandom(42);
    expectAllClose(
      references.random.gaussianSeed42.map(() => gaussian.nextNormal()),
      references.random.gaussianSeed42,
      1e-12,
    );
  });

  it('bootstrap percentile intervals', () => {
    const { seed, resamples, confidence } = references.bootstrap;
    const differences = subtractSamples(x, y);
    const [mean, pairedD] = computeBootstrapConfidenceIntervals(
      x.length,
      [
        (indices) => computeMean(Array.from(indices, (i) => x[i]!)),
        (indices) => {
          const drawn = Array.from(indices, (i) => differences[i]!);
          return computeMean(drawn) / computeStandardDeviation(drawn);
        },
      ],
      { seed, resamples, confidence },
    );
    expectClose(mean!.low, references.bootstrap.mean[0]!);
    expectClose(mean!.high, references.bootstrap.mean[1]!);
    expectClose(pairedD!.low, references.bootstrap.pairedD[0]!);
    expectClose(pairedD!.high, references.bootstrap.pairedD[1]!);
  });

  it('permutation test of AUROC', () => {
    const { values, labels } = references.pointBiserial;
    const { seed, permutations } = references.permutation;
    const result = runPermutationTest(labels, (shuffled) => computeAuroc(values, shuffled), {
      seed,
      permutations,
    });
    expectClose(result.observed, references.permutation.observed);
    expectClose(result.pValue, references.permutation.pValue);
    expectClose(result.nullMean, references.permutation.nullMean);
    expectClose(result.null95, references.permutation.null95);
  });

  it('stratified folds', () => {
    const { k, seed, assignment } = references.folds;
    expect(Array.from(createStratifiedFolds(references.pointBiserial.labels, k, seed))).toEqual(assignment);
  });
});
