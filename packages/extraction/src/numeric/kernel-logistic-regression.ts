import { decomposeCholesky, decomposePivotedCholesky, solveWithCholesky } from './cholesky';

export interface KernelLogisticRegressionOptions {
  /** Inverse regularisation strength (scikit-learn's C). */
  inverseRegularization: number;
  maxIterations: number;
  /** Stop when every gradient component is below this. */
  tolerance: number;
}

export interface KernelLogisticRegressionResult {
  /** Per-sample weights a: the coefficient vector is w = sum_i a_i x_i. */
  sampleWeights: Float64Array;
  bias: number;
  /** Decision values w . x_i + b of the training samples. */
  decisionValues: Float64Array;
  iterations: number;
  converged: boolean;
  /** Rank of the Gram matrix the solver worked in. */
  rank: number;
}

/**
 * L2-regularised logistic regression with an unpenalised intercept — scikit-learn's
 * `LogisticRegression(C)` objective, C * sum log(1 + exp(-y_i (w.x_i + b))) + |w|^2 / 2 — solved from the
 * Gram matrix alone. The optimum w lies in the span of the samples (representer theorem), so with a
 * rank-r factor F F^T = K the problem becomes an ordinary one in r <= n dimensions, which Newton's method
 * with a backtracking line search solves to machine precision in ~10 steps. Labels are +1 / -1.
 */
export function fitKernelLogisticRegression(
  gram: Float64Array,
  labels: ArrayLike<number>,
  options: KernelLogisticRegressionOptions,
): KernelLogisticRegressionResult {
  const size = labels.length;
  const c = options.inverseRegularization;
  const { rank, factor } = decomposePivotedCholesky(gram, size);
  const unknowns = rank + 1; // z, then the bias
  const parameters = new Float64Array(unknowns);
  const decision = new Float64Array(size);
  const computeDecision = (point: Float64Array, out: Float64Array): void => {
    const bias = point[rank]!;
    for (let i = 0; i < size; i++) {
      let sum = bias;
      const offset = i * rank;
      for (let k = 0; k < rank; k++) sum += factor[offset + k]! * point[k]!;
      out[i] = sum;
    }
  };
  const computeObjective = (point: Float64Array, decisionValues: Float64Array): number => {
    let loss = 0;
    for (let i = 0; i < size; i++) loss += softplus(-labels[i]! * decisionValues[i]!);
    let penalty = 0;
    for (let k = 0; k < rank; k++) penalty += point[k]! * point[k]!;
    return c * loss + penalty / 2;
  };
  computeDecision(parameters, decision);
  let objective = computeObjective(parameters, decision);
  let iterations = 0;
  let converged = false;
  const gradient = new Float64Array(unknowns);
  const hessian = new Float64Array(unknowns * unknowns);
  const residuals = new Float64Array(size);
  const curvature = new Float64Array(size);
  const trial = new Float64Array(unknowns);
  const trialDecision = new Float64Array(size);
  while (iterations < options.maxIterations) {
    for (let i = 0; i < size; i++) {
      const y = labels[i]!;
      residuals[i] = -y * logistic(-y * decision[i]!);
      const p = logistic(decision[i]!);
      curvature[i] = p * (1 - p);
    }
    gradient.fill(0);
    for (let i = 0; i < size; i++) {
      const offset = i * rank;
      const r = c * residuals[i]!;
      for (let k = 0; k < rank; k++) gradient[k]! += factor[offset + k]! * r;
      gradient[rank]! += r;
    }
    for (let k = 0; k < rank; k++) gradient[k]! += parameters[k]!;
    let largest = 0;
    for (let k = 0; k < unknowns; k++) largest = Math.max(largest, Math.abs(gradient[k]!));
    if (largest < options.tolerance) {
      converged = true;
      break;
    }
    iterations++;
    // Hessian [c F^T W F + I, c F^T w; c w^T F, c sum w], lower triangle then mirrored.
    hessian.fill(0);
    for (let i = 0; i < size; i++) {
      const weight = c * curvature[i]!;
      if (weight === 0) continue;
      const offset = i * rank;
      for (let a = 0; a < rank; a++) {
        const fa = factor[offset + a]! * weight;
        if (fa === 0) continue;
        const rowOffset = a * unknowns;
        for (let b = 0; b <= a; b++) hessian[rowOffset + b]! += fa * factor[offset + b]!;
        hessian[rank * unknowns + a]! += fa;
      }
      hessian[rank * unknowns + rank]! += weight;
    }
    for (let a = 0; a < rank; a++) hessian[a * unknowns + a]! += 1;
    // A vanishing curvature (perfectly separated, saturated data) must not make the bias row singular.
    hessian[rank * unknowns + rank]! += 1e-12;
    for (let a = 0; a < unknowns; a++)
      for (let b = a + 1; b < unknowns; b++) hessian[a * unknowns + b] = hessian[b * unknowns + a]!;
    const lower = decomposeCholesky(hessian, unknowns);
    const negativeGradient = gradient.map((value) => -value);
    const step = solveWithCholesky(lower, unknowns, negativeGradient);
    let slope = 0;
    for (let k = 0; k < unknowns; k++) slope += gradient[k]! * step[k]!;
    // The Newton decrement -slope/2 predicts how much this step can lower the objective. Once that is
    // below the objective's rounding error, the line search can no longer tell better from worse (a
    // near-singular Gram matrix can keep the raw gradient a little above `tolerance` here), but the
    // full Newton step is still accurate (quadratic convergence): take it and stop.
    if (-slope / 2 <= 1e-15 * Math.max(1, Math.abs(objective))) {
      for (let k = 0; k < unknowns; k++) parameters[k]! += step[k]!;
      computeDecision(parameters, decision);
      converged = true;
      break;
    }
    let length = 1;
    let accepted = false;
    for (let attempt = 0; attempt < 60; attempt++) {
      for (let k = 0; k < unknowns; k++) trial[k] = parameters[k]! + length * step[k]!;
      computeDecision(trial, trialDecision);
      const trialObjective = computeObjective(trial, trialDecision);
      if (trialObjective <= objective + 1e-4 * length * slope && trialObjective <= objective) {
        parameters.set(trial);
        decision.set(trialDecision);
        objective = trialObjective;
        accepted = true;
        break;
      }
      length /= 2;
    }
    if (!accepted) {
      // No decrease is possible in floating point: we are at the optimum to machine precision.
      converged = true;
      break;
    }
  }
  // Minimum-norm sample weights a with F^T a = z: a = F (F^T F)^-1 z.
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
  if (rank > 0) {
    const coefficients = solveWithCholesky(
      decomposeCholesky(normal, rank),
      rank,
      parameters.subarray(0, rank),
    );
    for (let i = 0; i < size; i++) {
      let sum = 0;
      for (let k = 0; k < rank; k++) sum += factor[i * rank + k]! * coefficients[k]!;
      sampleWeights[i] = sum;
    }
  }
  return { sampleWeights, bias: parameters[rank]!, decisionValues: decision, iterations, converged, rank };
}

function logistic(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/** log(1 + e^x) without overflow. */
function softplus(x: number): number {
  return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
}
