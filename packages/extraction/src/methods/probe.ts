import { TraitlensError } from '@traitlens/core';
import { fitKernelLogisticRegression } from '../numeric/kernel-logistic-regression';
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
 * Solved exactly in the n x n Gram space (see fitKernelLogisticRegression), so D = 8192 costs no more
 * than the Gram matrix.
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
    for (let i = 0; i < size; i++) labels[i] = i < shared.positiveCount ? 1 : -1;
    const fit = fitKernelLogisticRegression(scaledGram, labels, options);
    const rowWeights = new Float64Array(size);
    for (let i = 0; i < size; i++) rowWeights[i] = fit.sampleWeights[i]! * scales[i]!;
    const coefficient = combineMatrixRows(shared.stackedRows(), rowWeights);
    const { vector, norm } = normalizeToUnitFloat32(coefficient);
    let correct = 0;
    for (let i = 0; i < size; i++) if (fit.decisionValues[i]! > 0 === labels[i]! > 0) correct++;
    return {
      vector,
      bias: fit.bias,
      details: {
        coefficientNorm: norm,
        trainAccuracy: correct / size,
        iterations: fit.iterations,
        converged: fit.converged,
        gramRank: fit.rank,
      },
    };
  },
});
