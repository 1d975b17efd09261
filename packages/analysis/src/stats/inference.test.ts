import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { crossValidateLogisticRegression } from '../detection/cross-validate-logistic-regression';
import { runNestedCrossValidation } from '../detection/nested-cross-validation';
import { computeRandomDirectionNull } from '../diff/random-direction-null';
import { createRandomDirections } from '../projections/random-directions';
import { adjustPValuesBenjaminiHochberg, adjustPValuesHolm } from './adjust-p-values';
import { adjustForBestOf, computeEmpiricalPValue } from './empirical-p-value';
import { createFeatureMatrix } from './feature-matrix';
import { createGroupFolds, createStratifiedGroupFolds } from './group-folds';
import { computeGroupedAurocInterval } from './grouped-auroc-interval';
import { computeMeanConfidenceInterval } from './mean-confidence-interval';
import { runPermutationTest } from './permutation-test';
import { computeAuroc } from './roc-curve';
import { computeWilcoxonSignedRankTest } from './wilcoxon-signed-rank-test';

interface References {
  wilcoxon: { name: string; a: number[]; b: number[]; statistic: number; p: number; method: string }[];
  adjusted: { p: number[]; holm: number[]; benjaminiHochberg: number[] };
  randomNull: {
    seed: number;
    count: number;
    width: number;
    layers: number;
    prompts: number;
    summariesA: number[];
    summariesB: number[];
    firstDirection: number[];
    perLayerMedian: number[];
    perLayerQ95: number[];
    maxOverLayersQ95: number;
    observed: number;
    empiricalP: number;
    bestOfThree: number;
    cohensD: { perLayerQ95: number[]; maxOverLayersQ95: number; empiricalP: number };
  };
  folds: {
    groups: number[];
    labels: number[];
    groupKFold3: number[];
    leaveOneGroupOut: number[];
    stratifiedGroupKFold3: number[];
  };
  nested: {
    groups: number[];
    labels: number[];
    layers: number[][][];
    perLayerAuroc: number[];
    selected: number[];
    probabilities: number[];
    auroc: number;
  };
  permutation: {
    seed: number;
    permutations: number;
    scores: number[];
    observed: number;
    pValue: number;
    nullMean: number;
    null95: number;
  };
  clusterBootstrap: { seed: number; resamples: number; interval: number[] };
  meanInterval: { values: number[]; low: number; high: number };
}

// Generated once by tools/analysis/generate-inference-references.py (numpy, scipy 1.10, sklearn 1.2).
const references = JSON.parse(
  readFileSync(join(import.meta.dirname, '__fixtures__', 'inference-references.json'), 'utf8'),
) as References;

describe('paired rank test and multiple comparisons (scipy / statsmodels algorithm)', () => {
  it('Wilcoxon signed-rank: exact, normal approximation, ties and zeros (1e-10 relative)', () => {
    for (const reference of references.wilcoxon) {
      const result = computeWilcoxonSignedRankTest(reference.a, reference.b);
      expect(result.method, reference.name).toBe(reference.method);
      expect(result.statistic, reference.name).toBeCloseTo(reference.statistic, 9);
      expect(Math.abs(result.p - reference.p) / reference.p, reference.name).toBeLessThan(1e-10);
    }
  });

  it('t-interval of a mean (scipy t.interval, 1e-9)', () => {
    const interval = computeMeanConfidenceInterval(references.meanInterval.values);
    expect(interval.low).toBeCloseTo(references.meanInterval.low, 9);
    expect(interval.high).toBeCloseTo(references.meanInterval.high, 9);
    expect(computeMeanConfidenceInterval([3]).low).toBeNaN();
  });

  it('Holm and Benjamini-Hochberg (1e-14), NaN entries left out of the family', () => {
    const holm = adjustPValuesHolm(references.adjusted.p);
    const bh = adjustPValuesBenjaminiHochberg(references.adjusted.p);
    references.adjusted.holm.forEach((value, i) => {
      expect(holm[i]).toBeCloseTo(value, 14);
    });
    references.adjusted.benjaminiHochberg.forEach((value, i) => {
      expect(bh[i]).toBeCloseTo(value, 14);
    });
    const withGap = adjustPValuesHolm([0.01, Number.NaN, 0.04]);
    expect(withGap[1]).toBeNaN();
    expect(withGap[0]).toBeCloseTo(0.02, 15);
    expect(withGap[2]).toBeCloseTo(0.04, 15);
  });
});

describe('random-direction null', () => {
  const reference = references.randomNull;
  const directions = createRandomDirections({
    count: reference.count,
    hiddenSize: reference.width,
    layers: reference.layers,
    seed: reference.seed,
  });
  it('draws the same unit directions as the Python port of the generator (float32)', () => {
    reference.firstDirection.forEach((value, j) => {
      expect(directions.unitVectors[j]).toBeCloseTo(value, 6);
    });
  });

  it('per-layer chance band, best-layer quantile and empirical p of paired d and of d match numpy (1e-5)', () => {
    const { prompts, layers, width, count } = reference;
    const project = (summaries: number[]) => {
      const out = new Float64Array(prompts * layers * count);
      for (let p = 0; p < prompts; p++)
        for (let l = 0; l < layers; l++)
          for (let r = 0; r < count; r++) {
            // Direction r at layer l is the layer's signed permutation of the base direction.
            const { permutation, signs } = directions.layerMaps[l]!;
            let dot = 0;
            for (let j = 0; j < width; j++)
              dot +=
                summaries[(p * layers + l) * width + permutation[j]!]! *
                signs[j]! *
                directions.unitVectors[r * width + j]!;
            out[(p * layers + l) * count + r] = dot;
          }
      return out;
    };
    const tables = { a: project(reference.summariesA), b: project(reference.summariesB) };
    const all = Array.from({ length: prompts }, (_, i) => i);
    const draws = computeRandomDirectionNull({
      statistic: 'pairedD',
      source: 'random-directions',
      directions: count,
      seed: reference.seed,
      layers: [0, 1, 2],
      indices: all,
      pairedIndices: all,
      read: (variant, prompt, l, r) => tables[variant][(prompt * layers + l) * count + r]!,
    });
    expect(draws.summary.statistic).toBe('pairedD');
    draws.summary.perLayer.forEach((row, l) => {
      expect(row.median).toBeCloseTo(reference.perLayerMedian[l]!, 5);
      expect(row.q95).toBeCloseTo(reference.perLayerQ95[l]!, 5);
    });
    expect(draws.summary.maxOverLayersQ95).toBeCloseTo(reference.maxOverLayersQ95, 5);
    const p = computeEmpiricalPValue(reference.observed, draws.maxima);
    expect(p).toBeCloseTo(reference.empiricalP, 12);
    expect(adjustForBestOf(p, 3)).toBeCloseTo(reference.bestOfThree, 12);
    const unpaired = computeRandomDirectionNull({
      source: 'random-directions',
      directions: count,
      seed: reference.seed,
      layers: [0, 1, 2],
      indices: all,
      pairedIndices: all,
      read: (variant, prompt, l, r) => tables[variant][(prompt * layers + l) * count + r]!,
    });
    expect(unpaired.summary.statistic).toBe('cohensD');
    unpaired.summary.perLayer.forEach((row, l) => {
      expect(row.q95).toBeCloseTo(reference.cohensD.perLayerQ95[l]!, 5);
    });
    expect(unpaired.summary.maxOverLayersQ95).toBeCloseTo(reference.cohensD.maxOverLayersQ95, 5);
    expect(computeEmpiricalPValue(0.3, unpaired.maxima)).toBeCloseTo(reference.cohensD.empiricalP, 12);
  });
});

describe('grouped folds, nested cross-validation, within-group AUROC and permutations, cluster bootstrap (sklearn)', () => {
  it('leave-one-group-out and GroupKFold assign folds as sklearn does; stratified group folds as ported', () => {
    const { groups, labels } = references.folds;
    expect(Array.from(createGroupFolds(groups, 6).assignment)).toEqual(references.folds.leaveOneGroupOut);
    expect(Array.from(createGroupFolds(groups, 3).assignment)).toEqual(references.folds.groupKFold3);
    expect(Array.from(createStratifiedGroupFolds(groups, labels, 3))).toEqual(
      references.folds.stratifiedGroupKFold3,
    );
  });

  it('nested leave-one-group-out: inner choice, out-of-fold probabilities and AUROC (1e-6)', () => {
    const { groups, labels, layers } = references.nested;
    const y = Float64Array.from(labels);
    const features = layers.map((rows) =>
      createFeatureMatrix(rows.length, 3, Float64Array.from(rows.flat())),
    );
    features.forEach((matrix, l) => {
      const cv = crossValidateLogisticRegression(matrix, y, { groups, folds: 5 });
      expect(cv.folds).toBe(6);
      expect(cv.auroc).toBeCloseTo(references.nested.perLayerAuroc[l]!, 10);
    });
    const { assignment, folds } = createGroupFolds(groups, 6);
    const nested = runNestedCrossValidation({
      layerFeatures: features,
      labels: y,
      assignment,
      folds,
      groups: Int32Array.from(groups),
      innerFolds: 5,
      seed: 0,
      inverseRegularization: 1,
    });
    expect(nested.selectedLayerPositions).toEqual(references.nested.selected);
    references.nested.probabilities.forEach((value, i) => {
      expect(nested.probabilities[i]).toBeCloseTo(value, 6);
    });
    expect(nested.auroc).toBeCloseTo(references.nested.auroc, 10);
  });

  it('within-group permutation test of an AUROC (exact: same draws, sklearn statistic)', () => {
    const { scores, seed, permutations } = references.permutation;
    const result = runPermutationTest(references.nested.labels, (labels) => computeAuroc(scores, labels), {
      permutations,
      seed,
      groups: references.nested.groups,
    });
    expect(result.observed).toBeCloseTo(references.permutation.observed, 12);
    expect(result.pValue).toBeCloseTo(references.permutation.pValue, 12);
    expect(result.nullMean).toBeCloseTo(references.permutation.nullMean, 12);
    expect(result.null95).toBeCloseTo(references.permutation.null95, 12);
  });

  it('two-stage cluster bootstrap interval of the within-group AUROC (1e-12)', () => {
    const interval = computeGroupedAurocInterval(
      references.nested.probabilities,
      references.nested.labels,
      references.nested.groups,
      { resamples: references.clusterBootstrap.resamples, seed: references.clusterBootstrap.seed },
    );
    expect(interval.low).toBeCloseTo(references.clusterBootstrap.interval[0]!, 12);
    expect(interval.high).toBeCloseTo(references.clusterBootstrap.interval[1]!, 12);
  });
});
