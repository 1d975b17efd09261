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
  type CrossValidationOptions,
  computeAccuracy,
  crossValidateLogisticRegression,
  fitAndPredict,
} from './cross-validate-logistic-regression';
import { type NestedCrossValidationResult, runNestedCrossValidation } from './nested-cross-validation';

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
  folds?: number | undefined;
  /** Folds of the inner cross-validation that picks the layer inside each training fold (default 3). */
  innerFolds?: number | undefined;
  seed?: number | undefined;
  inverseRegularization?: number | undefined;
  /** Label permutations (within groups where prompts carry one) for the nested CV AUROC's p (default 100; 0 skips). */
  permutations?: number | undefined;
  /** Bootstrap resamples of the AUROC intervals (default 1000). */
  bootstrapResamples?: number | undefined;
  /** Up to this many groups, each holding both classes, are validated leave-one-group-out; else stratified group k-fold (default 10). */
  maximumLeaveOneOutGroups?: number | undefined;
  /** ROC curves are thinned to this many points (default 200). */
  maximumRocPoints?: number | undefined;
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

/** The rows of `top`, then those of `bottom` (same columns). */
function stackRows(top: FeatureMatrix, bottom: FeatureMatrix): FeatureMatrix {
  return createFeatureMatrix(
    top.rows + bottom.rows,
    top.columns,
    Float64Array.from([...top.values, ...bottom.values]),
  );
}

/** Trait and random vectors with a finite projection for every selected prompt at this layer. */
function usableVectors(
  table: ProjectionTable,
  vectors: readonly BankVector[],
  layerPosition: number,
  prompts: readonly number[],
): { traits: number[]; random: number[] } {
  const usable = { traits: [] as number[], random: [] as number[] };
  vectors.forEach((vector, k) => {
    const values = readProjectionColumn(table, layerPosition, k, prompts);
    if (!values.every((value) => Number.isFinite(value))) return;
    (vector.isRandomBaseline ? usable.random : usable.traits).push(k);
  });
  return usable;
}

/** DetectionOptions with every default filled in. */
interface DetectionSettings {
  requestedFolds: number;
  innerFolds: number;
  seed: number;
  inverseRegularization: number;
  maximumRocPoints: number;
  resamples: number;
  maximumLeaveOneOutGroups: number;
  permutations: number;
}

function detectionSettings(options: DetectionOptions): DetectionSettings {
  return {
    requestedFolds: options.folds ?? 5,
    innerFolds: options.innerFolds ?? 3,
    seed: options.seed ?? 0,
    inverseRegularization: options.inverseRegularization ?? 1,
    maximumRocPoints: options.maximumRocPoints ?? 200,
    resamples: options.bootstrapResamples ?? 1000,
    maximumLeaveOneOutGroups: options.maximumLeaveOneOutGroups ?? 10,
    permutations: options.permutations ?? 100,
  };
}

/** The prompts labelled 0 or 1 (positions in the table) and their labels. */
interface LabelledPrompts {
  labelled: number[];
  y: Float64Array;
  positives: number;
  negatives: number;
}

/** The labelled prompts; fails unless there is one label per prompt and at least 2 of each class. */
function readLabelledPrompts(table: ProjectionTable, labels: Float64Array): LabelledPrompts {
  if (labels.length !== table.promptIds.length) {
    throw new TraitlensError(
      'SHAPE_MISMATCH',
      `Detection got ${labels.length} labels for ${table.promptIds.length} prompts.`,
    );
  }
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
  return { labelled, y, positives, negatives };
}

/**
 * Groups of the labelled rows; a prompt without a group is its own group (it cannot leak into another).
 * Undefined when no labelled prompt has a group, or when there are fewer than 2 groups.
 */
function labelledGroupIds(
  groups: readonly (number | null)[] | undefined,
  labelled: readonly number[],
): Int32Array | undefined {
  if (!groups || !labelled.some((i) => groups[i] !== null && groups[i] !== undefined)) return undefined;
  let solo = -1;
  const groupIds = Int32Array.from(labelled, (i) => {
    const group = groups[i];
    return group === null || group === undefined ? solo-- : group;
  });
  return new Set(groupIds).size < 2 ? undefined : groupIds;
}

interface OuterFolds {
  assignment: Int32Array;
  folds: number;
  scheme: DetectionValidation['scheme'];
  /** Distinct groups among the labelled prompts; null without groups. */
  groupCount: number | null;
}

/** Grouped folds when the labelled prompts carry groups, else stratified k-fold. */
function chooseOuterFolds(
  prompts: LabelledPrompts,
  groupIds: Int32Array | undefined,
  settings: DetectionSettings,
): OuterFolds {
  if (groupIds) {
    const groupCount = new Set(groupIds).size;
    const { assignment, folds, scheme } = chooseGroupedFolds(groupIds, prompts.y, {
      folds: settings.requestedFolds,
      maximumLeaveOneOutGroups: settings.maximumLeaveOneOutGroups,
    });
    return { assignment, folds, scheme, groupCount };
  }
  const folds = Math.max(2, Math.min(settings.requestedFolds, prompts.positives, prompts.negatives));
  return {
    assignment: createStratifiedFolds(prompts.y, folds, settings.seed),
    folds,
    scheme: 'stratified-k-fold',
    groupCount: null,
  };
}

/** One layer's features of every labelled prompt (undefined where no vector of the kind is usable). */
interface LayerFeatures {
  layer: number;
  traitVectors: number[];
  traits: FeatureMatrix | undefined;
  random: FeatureMatrix | undefined;
}

function buildLayerFeatures(
  table: ProjectionTable,
  vectors: readonly BankVector[],
  labelled: readonly number[],
): LayerFeatures[] {
  return table.layers.map((layer, l) => {
    const usable = usableVectors(table, vectors, l, labelled);
    return {
      layer,
      traitVectors: usable.traits,
      traits: usable.traits.length > 0 ? buildFeatures(table, l, usable.traits, labelled) : undefined,
      random: usable.random.length > 0 ? buildFeatures(table, l, usable.random, labelled) : undefined,
    };
  });
}

/** What the steps of one detection share. */
interface DetectionContext {
  table: ProjectionTable;
  vectors: readonly BankVector[];
  labelled: number[];
  y: Float64Array;
  groupIds: Int32Array | undefined;
  outer: OuterFolds;
  settings: DetectionSettings;
  layerFeatures: LayerFeatures[];
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
  const { table, vectors, groups, trainGroups } = input;
  const prompts = readLabelledPrompts(table, input.labels);
  const { labelled, y, positives, negatives } = prompts;
  const settings = detectionSettings(options);
  const groupIds = labelledGroupIds(groups, labelled);
  const outer = chooseOuterFolds(prompts, groupIds, settings);
  const layerFeatures = buildLayerFeatures(table, vectors, labelled);
  const context: DetectionContext = { table, vectors, labelled, y, groupIds, outer, settings, layerFeatures };
  const perLayer = detectPerLayer(context);
  const best = detectBestLayer(context);
  const permutation = settings.permutations > 0 && best ? testPermutations(context) : null;
  const univariate = detectUnivariate(context);
  const generalization =
    groups && trainGroups
      ? runGeneralization({ table, vectors, labelled, y, groups, trainGroups, settings })
      : null;
  return {
    labelledPrompts: y.length,
    positives,
    negatives,
    folds: outer.folds,
    validation: {
      scheme: outer.scheme,
      folds: outer.folds,
      groups: outer.groupCount,
      innerFolds: settings.innerFolds,
    },
    majorityRate: Math.max(positives, negatives) / y.length,
    inverseRegularization: settings.inverseRegularization,
    perLayer,
    best,
    permutation,
    univariate,
    generalization,
  };
}

/** Per layer: cross-validated at that layer alone, on trait and on random vectors' projections. */
function detectPerLayer(context: DetectionContext): DetectionLayerResult[] {
  const { y, settings } = context;
  const cv: CrossValidationOptions = {
    folds: settings.requestedFolds,
    seed: settings.seed,
    inverseRegularization: settings.inverseRegularization,
    maximumLeaveOneOutGroups: settings.maximumLeaveOneOutGroups,
    groups: context.groupIds,
  };
  return context.layerFeatures.map((features) => {
    const traitCv = features.traits ? crossValidateLogisticRegression(features.traits, y, cv) : undefined;
    const randomCv = features.random ? crossValidateLogisticRegression(features.random, y, cv) : undefined;
    return {
      layer: features.layer,
      traitFeatures: features.traitVectors.length,
      cvAuroc: traitCv?.auroc ?? Number.NaN,
      cvAccuracy: traitCv?.accuracy ?? Number.NaN,
      randomFeatures: features.random?.columns ?? 0,
      randomCvAuroc: randomCv?.auroc ?? Number.NaN,
      randomCvAccuracy: randomCv?.accuracy ?? Number.NaN,
    };
  });
}

/** The nested cross-validation over the outer folds, on trait or on random vectors' projections. */
function runNested(
  context: DetectionContext,
  labels: Float64Array,
  which: 'traits' | 'random',
): NestedCrossValidationResult {
  return runNestedCrossValidation({
    layerFeatures: context.layerFeatures.map((features) => features[which]),
    labels,
    assignment: context.outer.assignment,
    folds: context.outer.folds,
    groups: context.groupIds,
    innerFolds: context.settings.innerFolds,
    seed: context.settings.seed,
    inverseRegularization: context.settings.inverseRegularization,
  });
}

/** The layer position most outer folds chose (ties: the lower position; 0 when no fold chose one). */
function mostChosenPosition(selectedPositions: readonly number[]): number {
  const counts = new Map<number, number>();
  for (const position of selectedPositions)
    if (position >= 0) counts.set(position, (counts.get(position) ?? 0) + 1);
  return [...counts].sort((x, z) => z[1] - x[1] || x[0] - z[0])[0]?.[0] ?? 0;
}

/** Nested cross-validation, its random control, the fit at the chosen layer; null without trait features. */
function detectBestLayer(context: DetectionContext): DetectionResult['best'] {
  const { table, vectors, y, layerFeatures, settings } = context;
  if (!layerFeatures.some((features) => features.traits)) return null;
  const observed = runNested(context, y, 'traits');
  const randomNested = layerFeatures.some((features) => features.random)
    ? runNested(context, y, 'random')
    : undefined;
  const features = layerFeatures[mostChosenPosition(observed.selectedLayerPositions)]!;
  const all = Array.from({ length: y.length }, (_, i) => i);
  const fit = features.traits
    ? fitStandardised(features.traits, y, all, settings.inverseRegularization).coefficients
    : new Float64Array(0);
  const probabilities = observed.probabilities;
  const interval = computeGroupedAurocInterval(probabilities, y, context.groupIds, {
    resamples: settings.resamples,
    seed: settings.seed,
  });
  return {
    layer: features.layer,
    selectedLayers: observed.selectedLayerPositions.map((position) =>
      position >= 0 ? table.layers[position]! : Number.NaN,
    ),
    cvAuroc: observed.auroc,
    cvAurocInterval: [interval.low, interval.high],
    cvAccuracy: observed.accuracy,
    randomCvAuroc: randomNested?.auroc ?? Number.NaN,
    roc: thinRocCurve(computeRocCurve(probabilities, y), settings.maximumRocPoints),
    randomRoc: thinRocCurve(
      computeRocCurve(randomNested?.probabilities ?? new Float64Array(y.length).fill(0.5), y),
      settings.maximumRocPoints,
    ),
    coefficients: features.traitVectors.map((k, column) => ({
      vectorId: vectors[k]!.id,
      weight: fit[column]!,
    })),
  };
}

/** Permutation test of the nested CV AUROC: each permutation re-runs it all, the layer choice included. */
function testPermutations(context: DetectionContext): NonNullable<DetectionResult['permutation']> {
  const { permutations, seed } = context.settings;
  const result = runPermutationTest(context.y, (shuffled) => runNested(context, shuffled, 'traits').auroc, {
    permutations,
    seed,
    groups: context.groupIds,
  });
  return { ...result, scheme: context.groupIds ? 'within-group' : 'unrestricted' };
}

/** Per vector and layer: AUROC and point-biserial r of the raw projection, p adjusted over trait vectors. */
function detectUnivariate(context: DetectionContext): UnivariateDetection[] {
  const { table, vectors, labelled, y } = context;
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
  return univariate;
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

interface GeneralizationInput {
  table: ProjectionTable;
  vectors: readonly BankVector[];
  labelled: readonly number[];
  y: Float64Array;
  groups: readonly (number | null)[];
  trainGroups: readonly number[];
  settings: DetectionSettings;
}

/** The labelled prompts that carry a group, split into the training groups' and the held-out groups'. */
interface GroupSplit {
  trainGroups: number[];
  testGroups: number[];
  trainPrompts: number[];
  testPrompts: number[];
  /** Per train / test prompt: its group. */
  trainGroupIds: number[];
  testGroupIds: number[];
  yTrain: Float64Array;
  yTest: Float64Array;
}

/** The split by training groups; null unless training holds 2 of each class and the held-out prompts 1. */
function splitByTrainGroups(input: GeneralizationInput): GroupSplit | null {
  const { labelled, y, groups } = input;
  const trainSet = new Set(input.trainGroups);
  const train = { rows: [] as number[], prompts: [] as number[], groups: [] as number[] };
  const test = { rows: [] as number[], prompts: [] as number[], groups: [] as number[] };
  labelled.forEach((prompt, row) => {
    const group = groups[prompt];
    if (group === null || group === undefined) return;
    const side = trainSet.has(group) ? train : test;
    side.rows.push(row);
    side.prompts.push(prompt);
    side.groups.push(group);
  });
  const yTrain = Float64Array.from(train.rows, (row) => y[row]!);
  const yTest = Float64Array.from(test.rows, (row) => y[row]!);
  const count = (values: Float64Array, label: number) =>
    values.reduce((sum, value) => sum + (value === label ? 1 : 0), 0);
  if (count(yTrain, 1) < 2 || count(yTrain, 0) < 2 || count(yTest, 1) < 1 || count(yTest, 0) < 1) return null;
  return {
    trainGroups: [...trainSet].sort((x, z) => x - z),
    testGroups: [...new Set(test.groups)].sort((x, z) => x - z),
    trainPrompts: train.prompts,
    testPrompts: test.prompts,
    trainGroupIds: train.groups,
    testGroupIds: test.groups,
    yTrain,
    yTest,
  };
}

interface LayerGeneralization {
  entry: GeneralizationResult['perLayer'][number];
  /** P(1) of the held-out prompts from the fit on the training groups. */
  probabilities: Float64Array;
}

/** One layer: grouped CV on the training groups, then a fit on them scored on the held-out groups. */
function generalizeAtLayer(input: GeneralizationInput, split: GroupSplit, l: number): LayerGeneralization {
  const { table, vectors, settings } = input;
  const { trainPrompts, testPrompts, yTrain, yTest, testGroupIds } = split;
  const usable = usableVectors(table, vectors, l, input.labelled);
  const trainFeatures = buildFeatures(table, l, usable.traits, trainPrompts);
  const all = stackRows(trainFeatures, buildFeatures(table, l, usable.traits, testPrompts));
  const fold = {
    labels: Float64Array.from([...yTrain, ...yTest]),
    train: trainPrompts.map((_, i) => i),
    test: testPrompts.map((_, i) => trainPrompts.length + i),
    inverseRegularization: settings.inverseRegularization,
  };
  const trainCvAuroc =
    usable.traits.length > 0
      ? crossValidateLogisticRegression(trainFeatures, yTrain, {
          folds: settings.requestedFolds,
          seed: settings.seed,
          inverseRegularization: settings.inverseRegularization,
          groups: split.trainGroupIds,
        }).auroc
      : Number.NaN;
  const probabilities =
    usable.traits.length > 0
      ? fitAndPredict({ ...fold, features: all })
      : new Float64Array(fold.test.length).fill(0.5);
  let randomTestAuroc = Number.NaN;
  if (usable.random.length > 0) {
    const randomAll = stackRows(
      buildFeatures(table, l, usable.random, trainPrompts),
      buildFeatures(table, l, usable.random, testPrompts),
    );
    randomTestAuroc = computeWithinGroupAuroc(
      fitAndPredict({ ...fold, features: randomAll }),
      yTest,
      testGroupIds,
    );
  }
  const entry = {
    layer: table.layers[l]!,
    trainCvAuroc,
    testAuroc: computeWithinGroupAuroc(probabilities, yTest, testGroupIds),
    testAccuracy: computeAccuracy(probabilities, yTest),
    randomTestAuroc,
  };
  return { entry, probabilities };
}

/** Per trait vector and layer: AUROC of the raw projection on the training and on the held-out prompts. */
function generalizationUnivariate(
  input: GeneralizationInput,
  split: GroupSplit,
): GeneralizationResult['univariate'] {
  const { table, vectors } = input;
  const univariate: GeneralizationResult['univariate'] = [];
  table.layers.forEach((layer, l) => {
    vectors.forEach((vector, k) => {
      if (vector.isRandomBaseline) return;
      const train = readProjectionColumn(table, l, k, split.trainPrompts);
      const test = readProjectionColumn(table, l, k, split.testPrompts);
      if (!train.every(Number.isFinite) || !test.every(Number.isFinite)) return;
      univariate.push({
        vectorId: vector.id,
        layer,
        trainAuroc: computeAuroc(train, split.yTrain),
        testAuroc: computeAuroc(test, split.yTest),
      });
    });
  });
  return univariate;
}

/** Position of the layer with the highest finite training-group CV AUROC (the first on ties); -1: none. */
function bestTrainPosition(perLayer: readonly LayerGeneralization[]): number {
  let bestPosition = -1;
  let bestScore = Number.NEGATIVE_INFINITY;
  perLayer.forEach(({ entry }, l) => {
    if (Number.isFinite(entry.trainCvAuroc) && entry.trainCvAuroc > bestScore) {
      bestPosition = l;
      bestScore = entry.trainCvAuroc;
    }
  });
  return bestPosition;
}

/** Train on the training groups, test on the others; null if a side lacks a class or no layer scores. */
function runGeneralization(input: GeneralizationInput): GeneralizationResult | null {
  const split = splitByTrainGroups(input);
  if (!split) return null;
  const perLayer = input.table.layers.map((_, l) => generalizeAtLayer(input, split, l));
  const chosen = perLayer[bestTrainPosition(perLayer)];
  if (!chosen) return null;
  const { resamples, seed, maximumRocPoints } = input.settings;
  const interval = computeGroupedAurocInterval(chosen.probabilities, split.yTest, split.testGroupIds, {
    resamples,
    seed,
  });
  return {
    trainGroups: split.trainGroups,
    testGroups: split.testGroups,
    trainPrompts: split.trainPrompts.length,
    testPrompts: split.testPrompts.length,
    layer: chosen.entry.layer,
    testAuroc: chosen.entry.testAuroc,
    testAurocInterval: [interval.low, interval.high],
    testAccuracy: chosen.entry.testAccuracy,
    randomTestAuroc: chosen.entry.randomTestAuroc,
    roc: thinRocCurve(computeRocCurve(chosen.probabilities, split.yTest), maximumRocPoints),
    perLayer: perLayer.map(({ entry }) => entry),
    univariate: generalizationUnivariate(input, split),
  };
}
