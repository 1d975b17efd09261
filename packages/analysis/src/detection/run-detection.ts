import { TraitlensError } from '@traitlens/core';
import type { ProjectionTable } from '../projections/projection-table';
import { readProjectionColumn } from '../projections/projection-table';
import type { BankVector } from '../projections/vector-bank';
import {
  applyFeatureScaling,
  createFeatureMatrix,
  type FeatureMatrix,
  fitFeatureScaling,
  selectRows,
} from '../stats/feature-matrix';
import { fitLogisticRegression, type LogisticRegressionModel } from '../stats/logistic-regression';
import { computePointBiserialCorrelation } from '../stats/pearson-correlation';
import { runPermutationTest } from '../stats/permutation-test';
import { computeAuroc, computeRocCurve, type RocCurve, thinRocCurve } from '../stats/roc-curve';
import {
  computeAccuracy,
  crossValidateLogisticRegression,
  fitAndPredict,
} from './cross-validate-logistic-regression';

export interface DetectionInput {
  /** Per-response projections used as features (e.g. variant B, or B - A). */
  table: ProjectionTable;
  /** The bank's vectors, in the table's vector order. */
  vectors: readonly BankVector[];
  /** Per prompt of the table: 1 (e.g. exploits a bias), 0, or NaN (unlabelled, left out). */
  labels: Float64Array;
  /** Per prompt: a group id such as the RM bias id, for train-group -> held-out-group evaluation. */
  groups?: readonly (number | null)[];
  /** Groups to train on; every other group with labelled prompts is held out. */
  trainGroups?: readonly number[];
}

export interface DetectionOptions {
  folds?: number;
  seed?: number;
  inverseRegularization?: number;
  /** Label permutations for the p-value of the best cross-validated AUROC (default 100; 0 skips). */
  permutations?: number;
  /** ROC curves are thinned to this many points (default 200). */
  maximumRocPoints?: number;
}

export interface DetectionLayerResult {
  layer: number;
  traitFeatures: number;
  cvAuroc: number;
  cvAccuracy: number;
  /** The same classifier on random baseline vectors' projections: what chance reaches here. */
  randomFeatures: number;
  randomCvAuroc: number;
  randomCvAccuracy: number;
}

export interface UnivariateDetection {
  vectorId: string;
  layer: number;
  isRandomBaseline: boolean;
  /** AUROC of the raw projection (no fitting; < 0.5 means the label goes with lower projections). */
  auroc: number;
  /** Point-biserial correlation with the label, and its two-sided p-value. */
  r: number;
  p: number;
}

export interface GeneralizationResult {
  trainGroups: number[];
  testGroups: number[];
  trainPrompts: number;
  testPrompts: number;
  /** Chosen by cross-validation on the training groups only. */
  layer: number;
  testAuroc: number;
  testAccuracy: number;
  randomTestAuroc: number;
  roc: RocCurve;
  perLayer: {
    layer: number;
    trainCvAuroc: number;
    testAuroc: number;
    testAccuracy: number;
    randomTestAuroc: number;
  }[];
  /** Per vector and layer: AUROC of the raw projection on train-group and on held-out prompts. */
  univariate: { vectorId: string; layer: number; trainAuroc: number; testAuroc: number }[];
}

export interface DetectionResult {
  labelledPrompts: number;
  positives: number;
  negatives: number;
  folds: number;
  inverseRegularization: number;
  perLayer: DetectionLayerResult[];
  best: {
    layer: number;
    cvAuroc: number;
    cvAccuracy: number;
    roc: RocCurve;
    randomRoc: RocCurve;
    /** Standardised coefficients of a fit on all labelled prompts at the best layer. */
    coefficients: { vectorId: string; weight: number }[];
  } | null;
  /** Permutation test of the best layer's CV AUROC; each permutation re-selects the best layer, so the selection is paid for. */
  permutation: {
    observed: number;
    pValue: number;
    permutations: number;
    nullMean: number;
    null95: number;
  } | null;
  univariate: UnivariateDetection[];
  generalization: GeneralizationResult | null;
}

function buildFeatures(
  table: ProjectionTable,
  layerPosition: number,
  vectorIndices: readonly number[],
  prompts: readonly number[],
): FeatureMatrix {
  const matrix = createFeatureMatrix(prompts.length, vectorIndices.length);
  vectorIndices.forEach((k, column) => {
    const values = readProjectionColumn(table, layerPosition, k, prompts);
    for (let row = 0; row < prompts.length; row++)
      matrix.values[row * vectorIndices.length + column] = values[row]!;
  });
  return matrix;
}

/** Vectors with a finite projection for every selected prompt at this layer. */
function usableVectors(
  table: ProjectionTable,
  vectors: readonly BankVector[],
  layerPosition: number,
  prompts: readonly number[],
  random: boolean,
): number[] {
  const out: number[] = [];
  vectors.forEach((vector, k) => {
    if (vector.isRandomBaseline !== random) return;
    const values = readProjectionColumn(table, layerPosition, k, prompts);
    if (values.every((value) => Number.isFinite(value))) out.push(k);
  });
  return out;
}

/**
 * Can the label (e.g. "this response exploits a reward-model bias") be read off trait projections alone?
 * Per layer: stratified k-fold CV of L2 logistic regression on all trait projections, against the same
 * classifier on random-vector projections; ROC of the best layer; a permutation test; per-vector AUROC
 * and point-biserial r; and, given groups, training on some groups (train biases) and testing on the rest.
 */
export function runDetection(input: DetectionInput, options: DetectionOptions = {}): DetectionResult {
  const { table, vectors, labels } = input;
  if (labels.length !== table.promptIds.length) {
    throw new TraitlensError(
      'SHAPE_MISMATCH',
      `Detection got ${labels.length} labels for ${table.promptIds.length} prompts.`,
    );
  }
  const folds = options.folds ?? 5;
  const seed = options.seed ?? 0;
  const inverseRegularization = options.inverseRegularization ?? 1;
  const maximumRocPoints = options.maximumRocPoints ?? 200;
  const labelled: number[] = [];
  for (let i = 0; i < labels.length; i++) if (labels[i] === 0 || labels[i] === 1) labelled.push(i);
  const y = Float64Array.from(labelled, (i) => labels[i]!);
  const positives = y.reduce((sum, value) => sum + value, 0);
  const negatives = y.length - positives;
  if (positives < 2 || negatives < 2) {
    throw new TraitlensError(
      'INSUFFICIENT_DATA',
      `Detection needs at least 2 labelled prompts of each class; got ${positives} positive and ${negatives} negative among ${table.promptIds.length} prompts. Check that the labels' prompt ids match the analysed prompts.`,
      { details: { positives, negatives } },
    );
  }
  const cv = { folds, seed, inverseRegularization };
  const layerFeatures = table.layers.map((_, l) => {
    const traitVectors = usableVectors(table, vectors, l, labelled, false);
    const randomVectors = usableVectors(table, vectors, l, labelled, true);
    return {
      traitVectors,
      traits: buildFeatures(table, l, traitVectors, labelled),
      random: randomVectors.length > 0 ? buildFeatures(table, l, randomVectors, labelled) : undefined,
    };
  });
  const perLayer: DetectionLayerResult[] = [];
  let bestPosition = -1;
  const outOfFold: Float64Array[] = [];
  const randomOutOfFold: (Float64Array | undefined)[] = [];
  let usedFolds = 0;
  table.layers.forEach((layer, l) => {
    const features = layerFeatures[l]!;
    const traitCv =
      features.traitVectors.length > 0 ? crossValidateLogisticRegression(features.traits, y, cv) : undefined;
    const randomCv = features.random ? crossValidateLogisticRegression(features.random, y, cv) : undefined;
    outOfFold.push(traitCv?.probabilities ?? new Float64Array(y.length).fill(Number.NaN));
    randomOutOfFold.push(randomCv?.probabilities);
    usedFolds = Math.max(usedFolds, traitCv?.folds ?? 0);
    perLayer.push({
      layer,
      traitFeatures: features.traitVectors.length,
      cvAuroc: traitCv?.auroc ?? Number.NaN,
      cvAccuracy: traitCv?.accuracy ?? Number.NaN,
      randomFeatures: features.random?.columns ?? 0,
      randomCvAuroc: randomCv?.auroc ?? Number.NaN,
      randomCvAccuracy: randomCv?.accuracy ?? Number.NaN,
    });
    if (
      Number.isFinite(perLayer[l]!.cvAuroc) &&
      (bestPosition < 0 || perLayer[l]!.cvAuroc > perLayer[bestPosition]!.cvAuroc)
    )
      bestPosition = l;
  });
  let best: DetectionResult['best'] = null;
  if (bestPosition >= 0) {
    const features = layerFeatures[bestPosition]!;
    const all = Array.from({ length: y.length }, (_, i) => i);
    const fit = fitStandardised(features.traits, y, all, inverseRegularization).coefficients;
    const randomProbabilities = randomOutOfFold[bestPosition];
    best = {
      layer: table.layers[bestPosition]!,
      cvAuroc: perLayer[bestPosition]!.cvAuroc,
      cvAccuracy: perLayer[bestPosition]!.cvAccuracy,
      roc: thinRocCurve(computeRocCurve(outOfFold[bestPosition]!, y), maximumRocPoints),
      randomRoc: thinRocCurve(
        computeRocCurve(randomProbabilities ?? new Float64Array(y.length).fill(0.5), y),
        maximumRocPoints,
      ),
      coefficients: features.traitVectors.map((k, column) => ({
        vectorId: vectors[k]!.id,
        weight: fit[column]!,
      })),
    };
  }
  const permutations = options.permutations ?? 100;
  let permutation: DetectionResult['permutation'] = null;
  if (permutations > 0 && best) {
    // The statistic re-runs the whole layer selection on every permutation of the labels.
    const statistic = (shuffled: Float64Array): number => {
      let maximum = Number.NEGATIVE_INFINITY;
      for (const features of layerFeatures) {
        if (features.traitVectors.length === 0) continue;
        const value = crossValidateLogisticRegression(features.traits, shuffled, cv).auroc;
        if (value > maximum) maximum = value;
      }
      return maximum;
    };
    permutation = runPermutationTest(y, statistic, { permutations, seed });
  }
  const univariate: UnivariateDetection[] = [];
  table.layers.forEach((layer, l) => {
    vectors.forEach((vector, k) => {
      const values = readProjectionColumn(table, l, k, labelled);
      if (!values.every((value) => Number.isFinite(value))) return;
      const correlation = computePointBiserialCorrelation(values, y);
      univariate.push({
        vectorId: vector.id,
        layer,
        isRandomBaseline: vector.isRandomBaseline,
        auroc: computeAuroc(values, y),
        r: correlation.r,
        p: correlation.p,
      });
    });
  });
  const generalization =
    input.groups && input.trainGroups
      ? runGeneralization(input, labelled, y, { inverseRegularization, folds, seed, maximumRocPoints })
      : null;
  return {
    labelledPrompts: y.length,
    positives,
    negatives,
    folds: usedFolds,
    inverseRegularization,
    perLayer,
    best,
    permutation,
    univariate,
    generalization,
  };
}

/** A fit on all given rows of standardised features; its coefficients are comparable across traits. */
function fitStandardised(
  features: FeatureMatrix,
  y: Float64Array,
  rows: number[],
  inverseRegularization: number,
): LogisticRegressionModel {
  const train = selectRows(features, rows);
  return fitLogisticRegression(
    applyFeatureScaling(train, fitFeatureScaling(train)),
    Array.from(rows, (i) => y[i]!),
    { inverseRegularization },
  );
}

function runGeneralization(
  input: DetectionInput,
  labelled: number[],
  y: Float64Array,
  options: { inverseRegularization: number; folds: number; seed: number; maximumRocPoints: number },
): GeneralizationResult | null {
  const { table, vectors } = input;
  const groups = input.groups!;
  const trainSet = new Set(input.trainGroups!);
  const trainRows: number[] = [];
  const testRows: number[] = [];
  const testGroups = new Set<number>();
  labelled.forEach((prompt, row) => {
    const group = groups[prompt];
    if (group === null || group === undefined) return;
    if (trainSet.has(group)) trainRows.push(row);
    else {
      testRows.push(row);
      testGroups.add(group);
    }
  });
  const yTrain = Float64Array.from(trainRows, (row) => y[row]!);
  const yTest = Float64Array.from(testRows, (row) => y[row]!);
  const count = (values: Float64Array, label: number) =>
    values.reduce((sum, value) => sum + (value === label ? 1 : 0), 0);
  if (count(yTrain, 1) < 2 || count(yTrain, 0) < 2 || count(yTest, 1) < 1 || count(yTest, 0) < 1) return null;
  const trainPrompts = trainRows.map((row) => labelled[row]!);
  const testPrompts = testRows.map((row) => labelled[row]!);
  const perLayer: GeneralizationResult['perLayer'] = [];
  const testProbabilities: Float64Array[] = [];
  let bestPosition = -1;
  table.layers.forEach((layer, l) => {
    const traitVectors = usableVectors(table, vectors, l, labelled, false);
    const randomVectors = usableVectors(table, vectors, l, labelled, true);
    const trainFeatures = buildFeatures(table, l, traitVectors, trainPrompts);
    const testFeatures = buildFeatures(table, l, traitVectors, testPrompts);
    const all = createFeatureMatrix(
      trainPrompts.length + testPrompts.length,
      traitVectors.length,
      Float64Array.from([...trainFeatures.values, ...testFeatures.values]),
    );
    const yAll = Float64Array.from([...yTrain, ...yTest]);
    const trainIndex = trainPrompts.map((_, i) => i);
    const testIndex = testPrompts.map((_, i) => trainPrompts.length + i);
    const trainCv =
      traitVectors.length > 0
        ? crossValidateLogisticRegression(trainFeatures, yTrain, options).auroc
        : Number.NaN;
    const probabilities =
      traitVectors.length > 0
        ? fitAndPredict(all, yAll, trainIndex, testIndex, options.inverseRegularization)
        : new Float64Array(testIndex.length).fill(0.5);
    let randomTestAuroc = Number.NaN;
    if (randomVectors.length > 0) {
      const randomAll = createFeatureMatrix(
        all.rows,
        randomVectors.length,
        Float64Array.from([
          ...buildFeatures(table, l, randomVectors, trainPrompts).values,
          ...buildFeatures(table, l, randomVectors, testPrompts).values,
        ]),
      );
      randomTestAuroc = computeAuroc(
        fitAndPredict(randomAll, yAll, trainIndex, testIndex, options.inverseRegularization),
        yTest,
      );
    }
    testProbabilities.push(probabilities);
    perLayer.push({
      layer,
      trainCvAuroc: trainCv,
      testAuroc: computeAuroc(probabilities, yTest),
      testAccuracy: computeAccuracy(probabilities, yTest),
      randomTestAuroc,
    });
    if (Number.isFinite(trainCv) && (bestPosition < 0 || trainCv > perLayer[bestPosition]!.trainCvAuroc))
      bestPosition = l;
  });
  if (bestPosition < 0) return null;
  const univariate: GeneralizationResult['univariate'] = [];
  table.layers.forEach((layer, l) => {
    vectors.forEach((vector, k) => {
      if (vector.isRandomBaseline) return;
      const train = readProjectionColumn(table, l, k, trainPrompts);
      const test = readProjectionColumn(table, l, k, testPrompts);
      if (!train.every(Number.isFinite) || !test.every(Number.isFinite)) return;
      univariate.push({
        vectorId: vector.id,
        layer,
        trainAuroc: computeAuroc(train, yTrain),
        testAuroc: computeAuroc(test, yTest),
      });
    });
  });
  const chosen = perLayer[bestPosition]!;
  return {
    trainGroups: [...trainSet].sort((x, z) => x - z),
    testGroups: [...testGroups].sort((x, z) => x - z),
    trainPrompts: trainPrompts.length,
    testPrompts: testPrompts.length,
    layer: chosen.layer,
    testAuroc: chosen.testAuroc,
    testAccuracy: chosen.testAccuracy,
    randomTestAuroc: chosen.randomTestAuroc,
    roc: thinRocCurve(computeRocCurve(testProbabilities[bestPosition]!, yTest), options.maximumRocPoints),
    perLayer,
    univariate,
  };
}
