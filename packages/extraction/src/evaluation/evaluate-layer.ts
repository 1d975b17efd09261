import { cosineSimilarity, TraitlensError } from '@traitlens/core';
import { computeColumnMeans, computeRowNorms, type Matrix } from '../numeric/matrix';
import { computeCosineProjections } from './cosine-projections';
import { computeProjectionMetrics } from './projection-metrics';
import type { LayerEvaluation, MethodEvaluation } from './trait-evaluation';

/** One layer's window-averaged activations, split into train and validation rows. */
export interface LayerActivationSplit {
  train: { positive: Matrix; negative: Matrix };
  validation: { positive: Matrix; negative: Matrix };
}

/** A method's output at one layer, as the evaluation needs it. */
export interface LayerVector {
  vector: Float32Array;
  bias?: number;
  details: Record<string, number | string | boolean>;
}

/** Scalar projection of the midpoint of the training class means onto the unit vector. */
export function computeProjectionBaseline(split: LayerActivationSplit, vector: ArrayLike<number>): number {
  const positiveMean = computeColumnMeans(split.train.positive);
  const negativeMean = computeColumnMeans(split.train.negative);
  let dot = 0;
  let squared = 0;
  for (let i = 0; i < vector.length; i++) {
    dot += ((positiveMean[i]! + negativeMean[i]!) / 2) * vector[i]!;
    squared += vector[i]! * vector[i]!;
  }
  return squared > 0 ? dot / Math.sqrt(squared) : 0;
}

/**
 * Evaluates every method's vector at one layer on cosine projections (docs/study-method.md §3.6). `combinedScore`
 * is left at 0: it needs the maximum |d| over all layers, which `scoreSiteEvaluation` fills in.
 */
export function evaluateLayer(
  split: LayerActivationSplit,
  vectors: ReadonlyMap<string, LayerVector>,
): LayerEvaluation {
  const { train, validation } = split;
  for (const [name, part] of [
    ['validation', validation],
    ['train', train],
  ] as const) {
    if (part.positive.rows < 1 || part.negative.rows < 1) {
      throw new TraitlensError(
        'INSUFFICIENT_DATA',
        `The ${name} split needs at least one positive and one negative sample (has ${part.positive.rows} and ${part.negative.rows}).`,
      );
    }
  }
  const norms = {
    trainPositive: computeRowNorms(train.positive),
    trainNegative: computeRowNorms(train.negative),
    validationPositive: computeRowNorms(validation.positive),
    validationNegative: computeRowNorms(validation.negative),
  };
  let normSum = 0;
  let normCount = 0;
  for (const values of Object.values(norms)) {
    for (const value of values) normSum += value;
    normCount += values.length;
  }
  const methods: Record<string, MethodEvaluation> = {};
  for (const [id, result] of vectors) {
    const validationMetrics = computeProjectionMetrics(
      computeCosineProjections(validation.positive, result.vector, norms.validationPositive),
      computeCosineProjections(validation.negative, result.vector, norms.validationNegative),
    );
    const trainAccuracy = computeProjectionMetrics(
      computeCosineProjections(train.positive, result.vector, norms.trainPositive),
      computeCosineProjections(train.negative, result.vector, norms.trainNegative),
    ).accuracy;
    const evaluation: MethodEvaluation = {
      validation: validationMetrics,
      trainAccuracy,
      accuracyDrop: trainAccuracy - validationMetrics.accuracy,
      combinedScore: 0,
      baseline: computeProjectionBaseline(split, result.vector),
      details: result.details,
    };
    if (result.bias !== undefined) evaluation.bias = result.bias;
    methods[id] = evaluation;
  }
  const methodCosines: Record<string, Record<string, number>> = {};
  for (const [first, a] of vectors) {
    methodCosines[first] = {};
    for (const [second, b] of vectors)
      methodCosines[first][second] = first === second ? 1 : cosineSimilarity(a.vector, b.vector);
  }
  return { activationNorm: normCount > 0 ? normSum / normCount : 0, methods, methodCosines };
}
