import { TraitlensError } from '@traitlens/core';
import { combineMatrixRows } from '../numeric/matrix';
import { computeTopEigenvector } from '../numeric/top-eigenvector';
import { computeMeanSeparation, normalizeToUnitFloat32 } from '../numeric/unit-vector';
import { defineExtractionMethod } from './extraction-method';

export interface PcaDiffOptions {
  maxIterations: number;
  /** Power iteration stops when no component of the iterate moves more than this. */
  tolerance: number;
}

/**
 * First principal component of the paired differences pos_i - neg_i (pairs by row order, as the
 * line-aligned data set files pair them; extra rows of the larger class are left out), with its sign
 * aligned so positives project higher.
 *
 * Uncentred on purpose: centring would subtract the mean difference, which is the trait signal itself,
 * leaving only its variation. This equals the top right-singular vector of the difference matrix and
 * is computed from the m x m Gram matrix of differences (derived from the shared Gram matrix, so no
 * extra pass over D) by power iteration.
 */
export const pcaDiffMethod = defineExtractionMethod<PcaDiffOptions>({
  id: 'pca_diff',
  summary: 'First principal component of paired differences (uncentred), sign aligned to positives.',
  normalisation: 'unit',
  defaultOptions: { maxIterations: 10_000, tolerance: 1e-12 },
  extract(_positive, _negative, options, shared) {
    const positiveCount = shared.positiveCount;
    const pairs = Math.min(positiveCount, shared.negativeCount);
    if (pairs < 1)
      throw new TraitlensError(
        'INSUFFICIENT_DATA',
        'pca_diff needs at least one positive and one negative sample.',
      );
    const total = positiveCount + shared.negativeCount;
    const gram = shared.gramMatrix();
    const differenceGram = new Float64Array(pairs * pairs);
    let trace = 0;
    for (let i = 0; i < pairs; i++) {
      const pi = i * total;
      const ni = (positiveCount + i) * total;
      for (let j = 0; j < pairs; j++) {
        const value =
          gram[pi + j]! - gram[pi + positiveCount + j]! - gram[ni + j]! + gram[ni + positiveCount + j]!;
        differenceGram[i * pairs + j] = value;
      }
      trace += differenceGram[i * pairs + i]!;
    }
    const top = computeTopEigenvector(differenceGram, pairs, options);
    const rowWeights = new Float64Array(total);
    for (let i = 0; i < pairs; i++) {
      rowWeights[i] = top.vector[i]!;
      rowWeights[positiveCount + i] = -top.vector[i]!;
    }
    const { vector } = normalizeToUnitFloat32(combineMatrixRows(shared.stackedRows(), rowWeights));
    const flipped = computeMeanSeparation(shared.positiveMean(), shared.negativeMean(), vector) < 0;
    if (flipped) for (let i = 0; i < vector.length; i++) vector[i] = -vector[i]!;
    return {
      vector,
      details: {
        pairs,
        explainedVarianceRatio: trace > 0 ? top.eigenvalue / trace : 0,
        iterations: top.iterations,
        converged: top.converged,
        signFlipped: flipped,
      },
    };
  },
});
