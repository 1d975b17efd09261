import { type FeatureMatrix, selectRows } from '../stats/feature-matrix';
import { computeWithinGroupAuroc } from '../stats/within-group-auroc';
import {
  computeAccuracy,
  crossValidateLogisticRegression,
  fitAndPredictOrPrior,
} from './cross-validate-logistic-regression';

export interface NestedCrossValidationInput {
  /** Per layer position: the features of every labelled row (undefined where a layer has none). */
  layerFeatures: readonly (FeatureMatrix | undefined)[];
  labels: Float64Array;
  /** Outer fold per row and the number of outer folds. */
  assignment: Int32Array;
  folds: number;
  /** Per row: group id for the inner folds (grouped like the outer ones); undefined: stratified inner folds. */
  groups?: Int32Array | undefined;
  innerFolds: number;
  seed: number;
  inverseRegularization: number;
}

export interface NestedCrossValidationResult {
  /** Out-of-fold P(1), each fold predicted by the layer its own training rows chose. */
  probabilities: Float64Array;
  /** With groups: over pairs within a group (computeWithinGroupAuroc); else the pooled AUROC. */
  auroc: number;
  accuracy: number;
  /** Per outer fold: the layer position its inner cross-validation chose (-1: none usable). */
  selectedLayerPositions: number[];
}

/**
 * Cross-validation with the layer chosen inside each training fold: for every outer fold, an inner
 * cross-validation on the training rows alone scores each layer, the best layer is refitted on all
 * training rows and predicts the held-out rows. The pooled out-of-fold AUROC therefore never saw the test
 * rows when the layer was picked (choosing the best of per-layer CV scores would be optimistic).
 */
export function runNestedCrossValidation(input: NestedCrossValidationInput): NestedCrossValidationResult {
  const { labels, assignment, folds, layerFeatures } = input;
  const probabilities = new Float64Array(labels.length).fill(Number.NaN);
  const selectedLayerPositions: number[] = [];
  for (let fold = 0; fold < folds; fold++) {
    const train: number[] = [];
    const test: number[] = [];
    for (let i = 0; i < labels.length; i++) (assignment[i] === fold ? test : train).push(i);
    if (test.length === 0) {
      selectedLayerPositions.push(-1);
      continue;
    }
    const trainLabels = Float64Array.from(train, (i) => labels[i]!);
    const groups = input.groups;
    const trainGroups = groups ? Int32Array.from(train, (i) => groups[i]!) : undefined;
    let bestPosition = -1;
    let bestScore = Number.NEGATIVE_INFINITY;
    layerFeatures.forEach((features, l) => {
      if (!features) return;
      const score = crossValidateLogisticRegression(selectRows(features, train), trainLabels, {
        folds: input.innerFolds,
        // Inner folds stay few (leave-one-group-out only up to innerFolds groups): the inner loop runs
        // for every outer fold, layer and permutation.
        maximumLeaveOneOutGroups: input.innerFolds,
        seed: input.seed,
        inverseRegularization: input.inverseRegularization,
        groups: trainGroups,
      }).auroc;
      if (score > bestScore) {
        bestScore = score;
        bestPosition = l;
      }
    });
    // No inner score (one class in training): fall back to the first usable layer; it predicts the class rate.
    if (bestPosition < 0) bestPosition = layerFeatures.findIndex((features) => features !== undefined);
    selectedLayerPositions.push(bestPosition);
    const predicted =
      bestPosition < 0
        ? new Float64Array(test.length).fill(0.5)
        : fitAndPredictOrPrior({
            features: layerFeatures[bestPosition]!,
            labels,
            train,
            test,
            inverseRegularization: input.inverseRegularization,
          });
    test.forEach((row, position) => {
      probabilities[row] = predicted[position]!;
    });
  }
  return {
    probabilities,
    auroc: computeWithinGroupAuroc(probabilities, labels, input.groups),
    accuracy: computeAccuracy(probabilities, labels),
    selectedLayerPositions,
  };
}
