import {
  applyFeatureScaling,
  type FeatureMatrix,
  fitFeatureScaling,
  selectRows,
} from '../stats/feature-matrix';
import { chooseGroupedFolds } from '../stats/group-folds';
import { fitLogisticRegression, predictLogisticProbabilities } from '../stats/logistic-regression';
import { computeAuroc } from '../stats/roc-curve';
import { createStratifiedFolds } from '../stats/stratified-folds';
import { computeWithinGroupAuroc } from '../stats/within-group-auroc';

export interface CrossValidationOptions {
  folds?: number | undefined;
  seed?: number | undefined;
  inverseRegularization?: number | undefined;
  /**
   * Per sample: a group id. Folds then never split a group (see `chooseGroupedFolds`), so a score cannot
   * come from recognising a group seen in training.
   */
  groups?: ArrayLike<number> | undefined;
  /** With groups: leave-one-group-out up to this many groups (when each holds both classes; default 10). */
  maximumLeaveOneOutGroups?: number | undefined;
}

export interface CrossValidationResult {
  /** Out-of-fold P(label = 1) per sample. */
  probabilities: Float64Array;
  /** AUROC of the out-of-fold probabilities; with groups, over pairs within a group (computeWithinGroupAuroc). */
  auroc: number;
  /** Accuracy of out-of-fold predictions at probability 0.5. */
  accuracy: number;
  folds: number;
}

/** A split of labelled rows: fit on `train`, predict `test` (row indices into `features`). */
export interface FoldFit {
  features: FeatureMatrix;
  labels: ArrayLike<number>;
  train: ArrayLike<number>;
  test: ArrayLike<number>;
  /** sklearn's C (default 1). */
  inverseRegularization?: number | undefined;
}

/** Fits standardisation + logistic regression on `train` rows and returns P(1) for `test` rows. */
export function fitAndPredict({
  features,
  labels,
  train,
  test,
  inverseRegularization = 1,
}: FoldFit): Float64Array {
  const trainMatrix = selectRows(features, train);
  const scaling = fitFeatureScaling(trainMatrix);
  const model = fitLogisticRegression(
    applyFeatureScaling(trainMatrix, scaling),
    Array.from(train, (i) => labels[i]!),
    { inverseRegularization },
  );
  return predictLogisticProbabilities(model, applyFeatureScaling(selectRows(features, test), scaling));
}

/**
 * fitAndPredict, except that a training set holding one class only (possible when folds follow groups)
 * predicts 0.5 for every test row (no information) instead of fitting a degenerate model; predicting the
 * training class would score the held-out class systematically wrong.
 */
export function fitAndPredictOrPrior(fold: FoldFit): Float64Array {
  const { labels, train, test } = fold;
  let positives = 0;
  for (let i = 0; i < train.length; i++) positives += labels[train[i]!]!;
  if (positives === 0 || positives === train.length) return new Float64Array(test.length).fill(0.5);
  return fitAndPredict(fold);
}

export function computeAccuracy(probabilities: ArrayLike<number>, labels: ArrayLike<number>): number {
  let correct = 0;
  for (let i = 0; i < labels.length; i++) if ((probabilities[i]! >= 0.5 ? 1 : 0) === labels[i]) correct++;
  return labels.length === 0 ? Number.NaN : correct / labels.length;
}

/**
 * Stratified (or, given groups, grouped) k-fold cross-validation of standardised L2 logistic regression (standardisation is fitted on
 * each training fold only, so nothing about the held-out fold leaks into it).
 */
export function crossValidateLogisticRegression(
  features: FeatureMatrix,
  labels: ArrayLike<number>,
  options: CrossValidationOptions = {},
): CrossValidationResult {
  let positives = 0;
  for (let i = 0; i < labels.length; i++) positives += labels[i]!;
  const negatives = labels.length - positives;
  const probabilities = new Float64Array(labels.length).fill(Number.NaN);
  if (positives < 2 || negatives < 2)
    return { probabilities, auroc: Number.NaN, accuracy: Number.NaN, folds: 0 };
  let folds: number;
  let assignment: Int32Array;
  if (options.groups && new Set(Array.from(options.groups)).size >= 2) {
    ({ assignment, folds } = chooseGroupedFolds(options.groups, labels, {
      folds: options.folds ?? 5,
      maximumLeaveOneOutGroups: options.maximumLeaveOneOutGroups,
    }));
  } else {
    // Each fold needs both classes in training; fewer samples than folds in a class lowers k.
    folds = Math.max(2, Math.min(options.folds ?? 5, positives, negatives));
    assignment = createStratifiedFolds(labels, folds, options.seed ?? 0);
  }
  for (let fold = 0; fold < folds; fold++) {
    const train: number[] = [];
    const test: number[] = [];
    for (let i = 0; i < labels.length; i++) (assignment[i] === fold ? test : train).push(i);
    if (test.length === 0) continue;
    const predicted = fitAndPredictOrPrior({
      features,
      labels,
      train,
      test,
      inverseRegularization: options.inverseRegularization,
    });
    test.forEach((index, position) => {
      probabilities[index] = predicted[position]!;
    });
  }
  return {
    probabilities,
    // With groups, pairs are counted within groups only (see computeWithinGroupAuroc).
    auroc: options.groups
      ? computeWithinGroupAuroc(probabilities, labels, options.groups)
      : computeAuroc(probabilities, labels),
    accuracy: computeAccuracy(probabilities, labels),
    folds,
  };
}
