import { TraitlensError } from '@traitlens/core';
import type { ProjectionTable } from '../projections/projection-table';
import { readProjectionColumn } from '../projections/projection-table';
import type { BankVector } from '../projections/vector-bank';
import { adjustPValuesBenjaminiHochberg, adjustPValuesHolm } from '../stats/adjust-p-values';
import {
  applyFeatureScaling,
  createFeatureMatrix,
  type FeatureMatrix,
  fitFeatureScaling,
  selectRows,
} from '../stats/feature-matrix';
import { chooseGroupedFolds, type GroupedValidationScheme } from '../stats/group-folds';
import { computeGroupedAurocInterval } from '../stats/grouped-auroc-interval';
import { fitLogisticRegression, type LogisticRegressionModel } from '../stats/logistic-regression';
import { computePointBiserialCorrelation } from '../stats/pearson-correlation';
import { runPermutationTest } from '../stats/permutation-test';
import { computeAuroc, computeRocCurve, type RocCurve, thinRocCurve } from '../stats/roc-curve';
import { createStratifiedFolds } from '../stats/stratified-folds';
import { computeWithinGroupAuroc } from '../stats/within-group-auroc';
import {
  computeAccuracy,
  crossValidateLogisticRegression,
  fitAndPredict,
} from './cross-validate-logistic-regression';
import { runNestedCrossValidation } from './nested-cross-validation';

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
  /** Outer folds of stratified (group) k-fold (default 5). */
  folds?: number;
  /** Folds of the inner cross-validation that picks the layer inside each training fold (default 3). */
  innerFolds?: number;
  seed?: number;
  inverseRegularization?: number;
  /** Label permutations (within groups where prompts carry one) for the nested CV AUROC's p (default 100; 0 skips). */
  permutations?: number;
  /** Bootstrap resamples of the AUROC intervals (default 1000). */
  bootstrapResamples?: number;
  /** Up to this many groups, each holding both classes, are validated leave-one-group-out; else stratified group k-fold (default 10). */
  maximumLeaveOneOutGroups?: number;
  /** ROC curves are thinned to this many points (default 200). */
  maximumRocPoints?: number;
}

export interface DetectionLayerResult {
  layer: number;
  traitFeatures: number;
  /** Cross-validated at this one layer (grouped folds where groups exist); the best of these is optimistic. */
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
  /** Holm and Benjamini-Hochberg adjusted over every trait vector x layer (null for random vectors). */
  pHolm: number;
  pBenjaminiHochberg: number;
}

export interface GeneralizationResult {
  trainGroups: number[];
  testGroups: number[];
  trainPrompts: number;
  testPrompts: number;
  /** Chosen by grouped cross-validation on the training groups only. */
  layer: number;
  testAuroc: number;
  /** Within-group AUROC on the held-out groups (pairs inside one held-out group), see computeWithinGroupAuroc. */
  /** Two-stage bootstrap interval (held-out groups, then prompts within them), see computeGroupedAurocInterval. */
  testAurocInterval: [number, number];
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

export interface DetectionValidation {
  /** `leave-one-group-out` / `stratified-group-k-fold` when labelled prompts carry groups, else `stratified-k-fold`. */
  scheme: GroupedValidationScheme | 'stratified-k-fold';
  folds: number;
  /** Distinct groups among the labelled prompts (prompts without a group count as their own); null without groups. */
  groups: number | null;
  innerFolds: number;
}

export interface DetectionResult {
  labelledPrompts: number;
  positives: number;
  negatives: number;
  /** Outer folds. */
  folds: number;
  validation: DetectionValidation;
  /** Accuracy of always predicting the larger class: the chance line for accuracy. */
  majorityRate: number;
  inverseRegularization: number;
  perLayer: DetectionLayerResult[];
  best: {
    /** The layer most training folds chose (ties: the lower layer). */
    layer: number;
    /** Per outer fold, the layer its inner cross-validation chose. */
    selectedLayers: number[];
    /** Nested CV: the layer picked inside each training fold, so this is not chosen on the test rows. */
    cvAuroc: number;
    /** Two-stage bootstrap (groups, then prompts within them; prompts without groups) of cvAuroc. */
    cvAurocInterval: [number, number];
    cvAccuracy: number;
    /** The identical nested procedure on the random baseline vectors' projections (NaN without them). */
    randomCvAuroc: number;
    roc: RocCurve;
    randomRoc: RocCurve;
    /** Standardised coefficients of a fit on all labelled prompts at `layer`. */
    coefficients: { vectorId: string; weight: number }[];
  } | null;
  /** Permutation test of the nested CV AUROC (the whole nested procedure re-run per permutation). */
  permutation: {
    observed: number;
    pValue: number;
    permutations: number;
    nullMean: number;
    null95: number;
    /** `within-group`: labels shuffled inside each group (null: nothing beyond group identity). */
    scheme: 'within-group' | 'unrestricted';
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
 * L2 logistic regression on all trait projections of a layer, validated with grouped folds when prompts
 * carry a group (a fold never splits a group), the layer chosen inside each training fold (nested), the
 * same procedure on random-vector projections as a control, a within-group permutation test, a bootstrap
 * interval of the AUROC, per-vector AUROC and point-biserial r (Holm/BH adjusted), and, given train
 * groups, training on those groups and testing on the held-out ones.
 */
export function runDetection(input: DetectionInput, options: DetectionOptions = {}): DetectionResult {
  const { table, vectors, labels } = input;
  if (labels.length !== table.promptIds.length) {
    throw new TraitlensError(
      'SHAPE_MISMATCH',
      `Detection got ${labels.length} labels for ${table.promptIds.length} prompts.`,
    );
  }
  const requestedFolds = options.folds ?? 5;
  const innerFolds = options.innerFolds ?? 3;
  const seed = options.seed ?? 0;
  const inverseRegularization = options.inverseRegularization ?? 1;
  const maximumRocPoints = options.maximumRocPoints ?? 200;
  const resamples = options.bootstrapResamples ?? 1000;
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
  // Groups of the labelled rows; a prompt without a group is its own group (it cannot leak into another).
  let groupIds: Int32Array | undefined;
  if (input.groups && labelled.some((i) => input.groups![i] !== null && input.groups![i] !== undefined)) {
    let solo = -1;
    groupIds = Int32Array.from(labelled, (i) => {
      const group = input.groups![i];
      return group === null || group === undefined ? solo-- : group;
    });
    if (new Set(groupIds).size < 2) groupIds = undefined;
  }
  let assignment: Int32Array;
  let folds: number;
  let scheme: DetectionValidation['scheme'];
  const groupCount = groupIds ? new Set(groupIds).size : null;
  if (groupIds && groupCount !== null) {
    ({ assignment, folds, scheme } = chooseGroupedFolds(groupIds, y, {
      folds: requestedFolds,
      maximumLeaveOneOutGroups: options.maximumLeaveOneOutGroups ?? 10,
    }));
  } else {
    folds = Math.max(2, Math.min(requestedFolds, positives, negatives));
    assignment = createStratifiedFolds(y, folds, seed);
    scheme = 'stratified-k-fold';
  }
  const cv = {
    folds: requestedFolds,
    seed,
    inverseRegularization,
    maximumLeaveOneOutGroups: options.maximumLeaveOneOutGroups ?? 10,
    ...(groupIds ? { groups: groupIds } : {}),
  };
  const layerFeatures = table.layers.map((_, l) => {
    const traitVectors = usableVectors(table, vectors, l, labelled, false);
    const randomVectors = usableVectors(table, vectors, l, labelled, true);
    return {
      traitVectors,
      traits: traitVectors.length > 0 ? buildFeatures(table, l, traitVectors, labelled) : undefined,
      random: randomVectors.length > 0 ? buildFeatures(table, l, randomVectors, labelled) : undefined,
    };
  });
  const perLayer: DetectionLayerResult[] = table.layers.map((layer, l) => {
    const features = layerFeatures[l]!;
    const traitCv = features.traits ? crossValidateLogisticRegression(features.traits, y, cv) : undefined;
    const randomCv = features.random ? crossValidateLogisticRegression(features.random, y, cv) : undefined;
    return {
      layer,
      traitFeatures: features.traitVectors.length,
      cvAuroc: traitCv?.auroc ?? Number.NaN,
      cvAccuracy: traitCv?.accuracy ?? Number.NaN,
      randomFeatures: features.random?.columns ?? 0,
      randomCvAuroc: randomCv?.auroc ?? Number.NaN,
      randomCvAccuracy: randomCv?.accuracy ?? Number.NaN,
    };
  });
  const nested = (labelsToUse: Float64Array, which: 'traits' | 'random') =>
    runNestedCrossValidation({
      layerFeatures: layerFeatures.map((features) => features[which]),
      labels: labelsToUse,
      assignment,
      folds,
      ...(groupIds ? { groups: groupIds } : {}),
      innerFolds,
      seed,
      inverseRegularization,
    });
  let best: DetectionResult['best'] = null;
  let observed: ReturnType<typeof nested> | undefined;
  if (layerFeatures.some((features) => features.traits)) {
    observed = nested(y, 'traits');
    const randomNested = layerFeatures.some((features) => features.random) ? nested(y, 'random') : undefined;
    const chosen = observed.selectedLayerPositions.filter((position) => position >= 0);
    const counts = new Map<number, number>();
    for (const position of chosen) counts.set(position, (counts.get(position) ?? 0) + 1);
    const modePosition = [...counts].sort((x, z) => z[1] - x[1] || x[0] - z[0])[0]?.[0] ?? 0;
    const features = layerFeatures[modePosition]!;
    const all = Array.from({ length: y.length }, (_, i) => i);
    const fit = features.traits
      ? fitStandardised(features.traits, y, all, inverseRegularization).coefficients
      : new Float64Array(0);
    const probabilities = observed.probabilities;
    const interval = computeGroupedAurocInterval(probabilities, y, groupIds, { resamples, seed });
    best = {
      layer: table.layers[modePosition]!,
      selectedLayers: observed.selectedLayerPositions.map((position) =>
        position >= 0 ? table.layers[position]! : Number.NaN,
      ),
      cvAuroc: observed.auroc,
      cvAurocInterval: [interval.low, interval.high],
      cvAccuracy: observed.accuracy,
      randomCvAuroc: randomNested?.auroc ?? Number.NaN,
      roc: thinRocCurve(computeRocCurve(probabilities, y), maximumRocPoints),
      randomRoc: thinRocCurve(
        computeRocCurve(randomNested?.probabilities ?? new Float64Array(y.length).fill(0.5), y),
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
    // Every permutation re-runs the whole nested procedure, layer selection included.
    const result = runPermutationTest(y, (shuffled) => nested(shuffled, 'traits').auroc, {
      permutations,
      seed,
      ...(groupIds ? { groups: groupIds } : {}),
    });
    permutation = { ...result, scheme: groupIds ? 'within-group' : 'unrestricted' };
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
        pHolm: Number.NaN,
        pBenjaminiHochberg: Number.NaN,
      });
    });
  });
  const family = univariate.filter((row) => !row.isRandomBaseline && !Number.isNaN(row.p));
  const holm = adjustPValuesHolm(family.map((row) => row.p));
  const benjaminiHochberg = adjustPValuesBenjaminiHochberg(family.map((row) => row.p));
  family.forEach((row, i) => {
    row.pHolm = holm[i]!;
    row.pBenjaminiHochberg = benjaminiHochberg[i]!;
  });
  const generalization =
    input.groups && input.trainGroups
      ? runGeneralization(input, labelled, y, {
          inverseRegularization,
          folds: requestedFolds,
          seed,
          maximumRocPoints,
          resamples,
        })
      : null;
  return {
    labelledPrompts: y.length,
    positives,
    negatives,
    folds,
    validation: { scheme, folds, groups: groupCount, innerFolds },
    majorityRate: Math.max(positives, negatives) / y.length,
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
  options: {
    inverseRegularization: number;
    folds: number;
    seed: number;
    maximumRocPoints: number;
    resamples: number;
  },
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
    const trainGroupIds = trainPrompts.map((prompt) => groups[prompt]!);
    const split = {
      labels: yAll,
      train: trainIndex,
      test: testIndex,
      inverseRegularization: options.inverseRegularization,
    };
    const trainCv =
      traitVectors.length > 0
        ? crossValidateLogisticRegression(trainFeatures, yTrain, { ...options, groups: trainGroupIds }).auroc
        : Number.NaN;
    const probabilities =
      traitVectors.length > 0
        ? fitAndPredict({ ...split, features: all })
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
      randomTestAuroc = computeWithinGroupAuroc(
        fitAndPredict({ ...split, features: randomAll }),
        yTest,
        testPrompts.map((prompt) => groups[prompt]!),
      );
    }
    testProbabilities.push(probabilities);
    perLayer.push({
      layer,
      trainCvAuroc: trainCv,
      testAuroc: computeWithinGroupAuroc(
        probabilities,
        yTest,
        testPrompts.map((prompt) => groups[prompt]!),
      ),
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
  const chosenProbabilities = testProbabilities[bestPosition]!;
  const testGroupIds = testPrompts.map((prompt) => groups[prompt]!);
  const interval = computeGroupedAurocInterval(chosenProbabilities, yTest, testGroupIds, {
    resamples: options.resamples,
    seed: options.seed,
  });
  return {
    trainGroups: [...trainSet].sort((x, z) => x - z),
    testGroups: [...testGroups].sort((x, z) => x - z),
    trainPrompts: trainPrompts.length,
    testPrompts: testPrompts.length,
    layer: chosen.layer,
    testAuroc: chosen.testAuroc,
    testAurocInterval: [interval.low, interval.high],
    testAccuracy: chosen.testAccuracy,
    randomTestAuroc: chosen.randomTestAuroc,
    roc: thinRocCurve(computeRocCurve(testProbabilities[bestPosition]!, yTest), options.maximumRocPoints),
    perLayer,
    univariate,
  };
}
