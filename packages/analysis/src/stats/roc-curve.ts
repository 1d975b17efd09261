import { TraitlensError } from '@traitlens/core';
import { computeAurocOfClasses } from '@traitlens/core/internal';

export interface RocCurve {
  /** False-positive rates, from 0 up to 1, one point per distinct score plus the origin. */
  falsePositiveRates: number[];
  truePositiveRates: number[];
  /** The score at or above which a sample is called positive, per point; Infinity at the origin. */
  thresholds: number[];
  auroc: number;
  positives: number;
  negatives: number;
}

function assertBinaryLabels(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
): { positives: number; negatives: number } {
  if (scores.length !== labels.length) {
    throw new TraitlensError(
      'SHAPE_MISMATCH',
      `ROC analysis needs one label per score, got ${scores.length} scores and ${labels.length} labels.`,
    );
  }
  let positives = 0;
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i]!;
    if (label !== 0 && label !== 1)
      throw new TraitlensError('INVALID_ARGUMENT', `ROC labels must be 0 or 1; label ${i} is ${label}.`);
    positives += label;
  }
  return { positives, negatives: labels.length - positives };
}

/**
 * Area under the ROC curve as the Mann-Whitney probability that a random positive outscores a random
 * negative (ties count one half); equal to sklearn's `roc_auc_score`. NaN when one class is empty.
 */
export function computeAuroc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  assertBinaryLabels(scores, labels);
  const positive: number[] = [];
  const negative: number[] = [];
  for (let i = 0; i < scores.length; i++) (labels[i] === 1 ? positive : negative).push(scores[i]!);
  return computeAurocOfClasses(positive, negative);
}

/** The full ROC curve (every distinct threshold, as sklearn's `roc_curve(drop_intermediate=False)`). */
export function computeRocCurve(scores: ArrayLike<number>, labels: ArrayLike<number>): RocCurve {
  const { positives, negatives } = assertBinaryLabels(scores, labels);
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((i, j) => scores[j]! - scores[i]!);
  const falsePositiveRates = [0];
  const truePositiveRates = [0];
  const thresholds = [Number.POSITIVE_INFINITY];
  let truePositives = 0;
  let falsePositives = 0;
  for (let start = 0; start < order.length; ) {
    let end = start;
    const threshold = scores[order[start]!]!;
    while (end < order.length && scores[order[end]!]! === threshold) {
      if (labels[order[end]!] === 1) truePositives++;
      else falsePositives++;
      end++;
    }
    falsePositiveRates.push(negatives === 0 ? Number.NaN : falsePositives / negatives);
    truePositiveRates.push(positives === 0 ? Number.NaN : truePositives / positives);
    thresholds.push(threshold);
    start = end;
  }
  return {
    falsePositiveRates,
    truePositiveRates,
    thresholds,
    auroc: computeAuroc(scores, labels),
    positives,
    negatives,
  };
}

/** Thins a curve to at most `maximumPoints` points (keeping both ends) so reports stay small. */
export function thinRocCurve(curve: RocCurve, maximumPoints: number): RocCurve {
  const count = curve.thresholds.length;
  if (count <= maximumPoints) return curve;
  const keep: number[] = [];
  for (let k = 0; k < maximumPoints; k++) keep.push(Math.round((k * (count - 1)) / (maximumPoints - 1)));
  return {
    ...curve,
    falsePositiveRates: keep.map((i) => curve.falsePositiveRates[i]!),
    truePositiveRates: keep.map((i) => curve.truePositiveRates[i]!),
    thresholds: keep.map((i) => curve.thresholds[i]!),
  };
}
