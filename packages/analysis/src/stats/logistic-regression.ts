import { TraitlensError } from '@traitlens/core';
import type { FeatureMatrix } from './feature-matrix';

export interface LogisticRegressionOptions {
  /** Inverse L2 strength C, as in sklearn (default 1): minimises C * sum(log-loss) + |w|^2 / 2. */
  inverseRegularization?: number;
  /** Fit an unpenalised intercept (default true). */
  fitIntercept?: boolean;
  maximumIterations?: number;
  /** Stop when the largest Newton step is below this (default 1e-12). */
  tolerance?: number;
}

export interface LogisticRegressionModel {
  coefficients: Float64Array;
  intercept: number;
  iterations: number;
  converged: boolean;
}

function softplus(z: number): number {
  return z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z));
}

function sigmoid(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}

/** Solves H x = g in place for a symmetric positive-definite H (Cholesky); returns false if H is not. */
function solveSymmetricPositiveDefinite(h: Float64Array, g: Float64Array, size: number): boolean {
  for (let j = 0; j < size; j++) {
    let diagonal = h[j * size + j]!;
    for (let k = 0; k < j; k++) diagonal -= h[j * size + k]! * h[j * size + k]!;
    if (!(diagonal > 0)) return false;
    const root = Math.sqrt(diagonal);
    h[j * size + j] = root;
    for (let i = j + 1; i < size; i++) {
      let sum = h[i * size + j]!;
      for (let k = 0; k < j; k++) sum -= h[i * size + k]! * h[j * size + k]!;
      h[i * size + j] = sum / root;
    }
  }
  for (let i = 0; i < size; i++) {
    let sum = g[i]!;
    for (let k = 0; k < i; k++) sum -= h[i * size + k]! * g[k]!;
    g[i] = sum / h[i * size + i]!;
  }
  for (let i = size - 1; i >= 0; i--) {
    let sum = g[i]!;
    for (let k = i + 1; k < size; k++) sum -= h[k * size + i]! * g[k]!;
    g[i] = sum / h[i * size + i]!;
  }
  return true;
}

/**
 * L2-regularised logistic regression fitted by Newton's method with a backtracking line search. The
 * objective is sklearn's (`LogisticRegression(C=...)`), and Newton converges to machine precision, so the
 * coefficients agree with sklearn's `newton-cholesky` solver run to a tight tolerance.
 */
export function fitLogisticRegression(
  features: FeatureMatrix,
  labels: ArrayLike<number>,
  options: LogisticRegressionOptions = {},
): LogisticRegressionModel {
  const { rows, columns, values } = features;
  if (labels.length !== rows)
    throw new TraitlensError(
      'SHAPE_MISMATCH',
      `Logistic regression got ${rows} samples but ${labels.length} labels.`,
    );
  const c = options.inverseRegularization ?? 1;
  if (!(c > 0))
    throw new TraitlensError('INVALID_ARGUMENT', `The inverse regularisation C must be positive, got ${c}.`);
  const fitIntercept = options.fitIntercept ?? true;
  const maximumIterations = options.maximumIterations ?? 100;
  const tolerance = options.tolerance ?? 1e-12;
  const size = columns + (fitIntercept ? 1 : 0);
  // weights[0..columns) are coefficients, weights[columns] the intercept.
  const weights = new Float64Array(size);
  const margins = new Float64Array(rows);
  const objective = (w: Float64Array): number => {
    let loss = 0;
    for (let r = 0; r < rows; r++) {
      let z = fitIntercept ? w[columns]! : 0;
      for (let j = 0; j < columns; j++) z += values[r * columns + j]! * w[j]!;
      margins[r] = z;
      loss += labels[r] === 1 ? softplus(-z) : softplus(z);
    }
    let penalty = 0;
    for (let j = 0; j < columns; j++) penalty += w[j]! * w[j]!;
    return c * loss + penalty / 2;
  };
  let current = objective(weights);
  const gradient = new Float64Array(size);
  const hessian = new Float64Array(size * size);
  const candidate = new Float64Array(size);
  let iterations = 0;
  let converged = false;
  while (iterations < maximumIterations) {
    iterations++;
    gradient.fill(0);
    hessian.fill(0);
    for (let r = 0; r < rows; r++) {
      const p = sigmoid(margins[r]!);
      const residual = c * (p - labels[r]!);
      const curvature = c * p * (1 - p);
      const row = r * columns;
      for (let i = 0; i < size; i++) {
        const xi = i < columns ? values[row + i]! : 1;
        gradient[i]! += residual * xi;
        for (let j = 0; j <= i; j++)
          hessian[i * size + j]! += curvature * xi * (j < columns ? values[row + j]! : 1);
      }
    }
    for (let j = 0; j < columns; j++) {
      gradient[j]! += weights[j]!;
      hessian[j * size + j]! += 1;
    }
    for (let i = 0; i < size; i++)
      for (let j = i + 1; j < size; j++) hessian[i * size + j] = hessian[j * size + i]!;
    const step = Float64Array.from(gradient);
    if (!solveSymmetricPositiveDefinite(hessian, step, size)) break;
    let largest = 0;
    for (const s of step) largest = Math.max(largest, Math.abs(s));
    let scale = 1;
    let accepted = false;
    for (let halving = 0; halving < 40; halving++) {
      for (let i = 0; i < size; i++) candidate[i] = weights[i]! - scale * step[i]!;
      const value = objective(candidate);
      if (value <= current) {
        weights.set(candidate);
        current = value;
        accepted = true;
        break;
      }
      scale /= 2;
    }
    // No decrease even for a tiny step means the objective is flat to rounding: the optimum.
    if (!accepted || largest * scale < tolerance) {
      converged = true;
      break;
    }
  }
  return {
    coefficients: weights.slice(0, columns),
    intercept: fitIntercept ? weights[columns]! : 0,
    iterations,
    converged,
  };
}

/** P(label = 1) for each row. */
export function predictLogisticProbabilities(
  model: LogisticRegressionModel,
  features: FeatureMatrix,
): Float64Array {
  const { rows, columns, values } = features;
  if (columns !== model.coefficients.length) {
    throw new TraitlensError(
      'SHAPE_MISMATCH',
      `The model has ${model.coefficients.length} coefficients but the features have ${columns} columns.`,
    );
  }
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let z = model.intercept;
    for (let j = 0; j < columns; j++) z += values[r * columns + j]! * model.coefficients[j]!;
    out[r] = sigmoid(z);
  }
  return out;
}
