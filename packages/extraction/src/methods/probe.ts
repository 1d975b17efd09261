import { TraitlensError } from '@traitlens/core';
import {
  decomposeCholesky,
  decomposePivotedCholesky,
  fitLogisticRegression,
  solveWithCholesky,
} from '@traitlens/core/internal';
import { combineMatrixRows } from '../numeric/matrix';
import { normalizeToUnitFloat32 } from '../numeric/unit-vector';
import { defineExtractionMethod } from './extraction-method';

export interface ProbeOptions {
  /** Inverse regularisation strength, scikit-learn's C. */
  inverseRegularization: number;
  /** Scale every activation to unit norm before fitting (the study's choice: coefficients comparable across models). */
  normalizeRows: boolean;
  maxIterations: number;
  /** Newton stops when every gradient component is below this. */
  tolerance: number;
}

/** Added to row norms before dividing, as the study did, so an all-zero row stays finite. */
const rowNormEpsilon = 1e-8;

/**
 * L2 logistic regression (C = 1) on row-normalised activations, like scikit-learn's
 * `LogisticRegression(C=1)`; the vector is the unit coefficient and the intercept is kept as `bias`.
 * Solved exactly in the n x n Gram space, so D = 8192 costs no more than the Gram matrix: the optimum w
 * lies in the span of the samples (representer theorem), so with a rank-r factor F F^T = K of the Gram
 * matrix the fit is core's logistic regression on the n x r features F, and w = sum_i a_i x_i.
 */
export const probeMethod = defineExtractionMethod<ProbeOptions>({
  id: 'probe',
  summary: 'L2 logistic regression (C=1) on row-normalised activations; unit coefficient, bias kept.',
  normalisation: 'unit',
  defaultOptions: { inverseRegularization: 1, normalizeRows: true, maxIterations: 100, tolerance: 1e-10 },
  extract(_positive, _negative, options, shared) {
    if (!(options.inverseRegularization > 0)) {
      throw new TraitlensError(
        'INVALID_ARGUMENT',
        `probe: inverseRegularization must be > 0 (got ${options.inverseRegularization}).`,
      );
    }
    const size = shared.positiveCount + shared.negativeCount;
    const norms = shared.rowNorms();
    const scales = new Float64Array(size);
    for (let i = 0; i < size; i++) scales[i] = options.normalizeRows ? 1 / (norms[i]! + rowNormEpsilon) : 1;
    const gram = shared.gramMatrix();
    const scaledGram = new Float64Array(size * size);
    for (let i = 0; i < size; i++) {
      for (let j = 0; j < size; j++) scaledGram[i * size + j] = gram[i * size + j]! * scales[i]! * scales[j]!;
    }
    const labels = new Float64Array(size);
    for (let i = 0; i < size; i++) labels[i] = i < shared.positiveCount ? 1 : 0;
    const { rank, factor } = decomposePivotedCholesky(scaledGram, size);
    const fit = fitLogisticRegression({ rows: size, columns: rank, values: factor }, labels, {
      inverseRegularization: options.inverseRegularization,
      maximumIterations: options.maxIterations,
      tolerance: options.tolerance,
    });
    const sampleWeights = toSampleWeights({ factor, size, rank }, fit.coefficients);
    const rowWeights = new Float64Array(size);
    for (let i = 0; i < size; i++) rowWeights[i] = sampleWeights[i]! * scales[i]!;
    const coefficient = combineMatrixRows(shared.stackedRows(), rowWeights);
    const { vector, norm } = normalizeToUnitFloat32(coefficient);
    let correct = 0;
    for (let i = 0; i < size; i++) if (fit.decisionValues[i]! > 0 === labels[i]! > 0) correct++;
    return {
      vector,
      bias: fit.intercept,
      details: {
        coefficientNorm: norm,
        trainAccuracy: correct / size,
        iterations: fit.iterations,
        converged: fit.converged,
        gramRank: rank,
      },
    };
  },
});

/** Minimum-norm sample weights a with F^T a = z (F is size x rank, row-major): a = F (F^T F)^-1 z. */
function toSampleWeights(
  { factor, size, rank }: { factor: Float64Array; size: number; rank: number },
  z: Float64Array,
): Float64Array {
  const normal = new Float64Array(rank * rank);
  for (let i = 0; i < size; i++) {
    const offset = i * rank;
    for (let a = 0; a < rank; a++) {
      const fa = factor[offset + a]!;
      for (let b = 0; b <= a; b++) normal[a * rank + b]! += fa * factor[offset + b]!;
    }
  }
  for (let a = 0; a < rank; a++)
    for (let b = a + 1; b < rank; b++) normal[a * rank + b] = normal[b * rank + a]!;
  const sampleWeights = new Float64Array(size);
  if (rank === 0) return sampleWeights;
  const coefficients = solveWithCholesky(decomposeCholesky(normal, rank), rank, z);
  for (let i = 0; i < size; i++) {
    let sum = 0;
    for (let k = 0; k < rank; k++) sum += factor[i * rank + k]! * coefficients[k]!;
    sampleWeights[i] = sum;
  }
  return sampleWeights;
}
