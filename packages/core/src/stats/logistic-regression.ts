import { TraitlensError } from '../errors/traitlens-error';
import { decomposeCholesky, solveWithCholesky } from '../numeric/cholesky';

/** Samples x features, row-major. */
export interface LogisticFeatures {
  rows: number;
  columns: number;
  values: ArrayLike<number>;
}

export interface LogisticRegressionOptions {
  /** Inverse L2 strength C, as in sklearn (default 1): minimises C * sum(log-loss) + |w|^2 / 2. */
  inverseRegularization?: number;
  /** Fit an unpenalised intercept (default true). */
  fitIntercept?: boolean;
  /** Newton steps at most (default 100). */
  maximumIterations?: number;
  /** Converged once every gradient component is below this (default 1e-10). */
  tolerance?: number;
}

export interface LogisticRegressionModel {
  coefficients: Float64Array;
  intercept: number;
  iterations: number;
  converged: boolean;
}

/** A fitted model and its decision values w . x_i + b on the training rows. */
export interface LogisticRegressionFit extends LogisticRegressionModel {
  decisionValues: Float64Array;
}

/** The fixed parts of one fit: features, labels as +1 / -1, C, and the unknowns (w, then b). */
interface Problem {
  features: LogisticFeatures;
  signs: Float64Array;
  c: number;
  fitIntercept: boolean;
  unknowns: number;
}

/**
 * L2-regularised logistic regression, sklearn's `LogisticRegression(C)` objective
 * C * sum log(1 + exp(-y_i (w.x_i + b))) + |w|^2 / 2 with the intercept unpenalised, solved by Newton's
 * method with a backtracking (Armijo) line search to machine precision. Labels: 1 is the positive class,
 * anything else the negative one. The one logistic regression in traitlens: analysis fits it on
 * standardised projections, extraction's probe on a rank-revealing factor of its Gram matrix.
 */
export function fitLogisticRegression(
  features: LogisticFeatures,
  labels: ArrayLike<number>,
  options: LogisticRegressionOptions = {},
): LogisticRegressionFit {
  const problem = createProblem(features, labels, options);
  const maximumIterations = options.maximumIterations ?? 100;
  const tolerance = options.tolerance ?? 1e-10;
  const parameters = new Float64Array(problem.unknowns);
  const decision = computeDecisionValues(problem, parameters);
  let objective = computeObjective(problem, parameters, decision);
  let iterations = 0;
  let converged = false;
  while (iterations < maximumIterations) {
    const { gradient, curvature } = computeGradient(problem, parameters, decision);
    let largest = 0;
    for (const value of gradient) largest = Math.max(largest, Math.abs(value));
    if (largest < tolerance) {
      converged = true;
      break;
    }
    iterations++;
    const step = computeNewtonStep(problem, curvature, gradient);
    let slope = 0;
    for (let k = 0; k < problem.unknowns; k++) slope += gradient[k]! * step[k]!;
    // The Newton decrement -slope/2 predicts how much this step can lower the objective. Once that is
    // below the objective's rounding error, the line search can no longer tell better from worse (a
    // near-singular problem can keep the raw gradient a little above `tolerance` here), but the full
    // Newton step is still accurate (quadratic convergence): take it and stop.
    if (-slope / 2 <= 1e-15 * Math.max(1, Math.abs(objective))) {
      for (let k = 0; k < problem.unknowns; k++) parameters[k]! += step[k]!;
      decision.set(computeDecisionValues(problem, parameters));
      converged = true;
      break;
    }
    const accepted = searchLine(problem, { parameters, decision, objective, step, slope });
    // No decrease is possible in floating point: the optimum to machine precision.
    if (accepted === undefined) {
      converged = true;
      break;
    }
    objective = accepted;
  }
  const columns = features.columns;
  return {
    coefficients: parameters.slice(0, columns),
    intercept: problem.fitIntercept ? parameters[columns]! : 0,
    decisionValues: decision,
    iterations,
    converged,
  };
}

/** P(label = 1) for each row. */
export function predictLogisticProbabilities(
  model: Pick<LogisticRegressionModel, 'coefficients' | 'intercept'>,
  features: LogisticFeatures,
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
    out[r] = logistic(z);
  }
  return out;
}

function createProblem(
  features: LogisticFeatures,
  labels: ArrayLike<number>,
  options: LogisticRegressionOptions,
): Problem {
  if (labels.length !== features.rows)
    throw new TraitlensError(
      'SHAPE_MISMATCH',
      `Logistic regression got ${features.rows} samples but ${labels.length} labels.`,
    );
  const c = options.inverseRegularization ?? 1;
  if (!(c > 0))
    throw new TraitlensError('INVALID_ARGUMENT', `The inverse regularisation C must be positive, got ${c}.`);
  const fitIntercept = options.fitIntercept ?? true;
  const signs = Float64Array.from(labels, (label) => (label === 1 ? 1 : -1));
  return { features, signs, c, fitIntercept, unknowns: features.columns + (fitIntercept ? 1 : 0) };
}

function computeDecisionValues(problem: Problem, point: Float64Array): Float64Array {
  const { rows, columns, values } = problem.features;
  const bias = problem.fitIntercept ? point[columns]! : 0;
  const out = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    let sum = bias;
    const offset = i * columns;
    for (let k = 0; k < columns; k++) sum += values[offset + k]! * point[k]!;
    out[i] = sum;
  }
  return out;
}

function computeObjective(problem: Problem, point: Float64Array, decision: Float64Array): number {
  let loss = 0;
  for (let i = 0; i < decision.length; i++) loss += softplus(-problem.signs[i]! * decision[i]!);
  let penalty = 0;
  for (let k = 0; k < problem.features.columns; k++) penalty += point[k]! * point[k]!;
  return problem.c * loss + penalty / 2;
}

/** The objective's gradient, and each row's curvature p (1 - p) for the Hessian. */
function computeGradient(
  problem: Problem,
  point: Float64Array,
  decision: Float64Array,
): { gradient: Float64Array; curvature: Float64Array } {
  const { rows, columns, values } = problem.features;
  const gradient = new Float64Array(problem.unknowns);
  const curvature = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    const y = problem.signs[i]!;
    const r = problem.c * (-y * logistic(-y * decision[i]!));
    const p = logistic(decision[i]!);
    curvature[i] = p * (1 - p);
    const offset = i * columns;
    for (let k = 0; k < columns; k++) gradient[k]! += values[offset + k]! * r;
    if (problem.fitIntercept) gradient[columns]! += r;
  }
  for (let k = 0; k < columns; k++) gradient[k]! += point[k]!;
  return { gradient, curvature };
}

/** Solves H step = -gradient with H = [c X^T W X + I, c X^T w; c w^T X, c sum w] (intercept last). */
function computeNewtonStep(problem: Problem, curvature: Float64Array, gradient: Float64Array): Float64Array {
  const { rows, columns, values } = problem.features;
  const { unknowns } = problem;
  const hessian = new Float64Array(unknowns * unknowns);
  for (let i = 0; i < rows; i++) {
    const weight = problem.c * curvature[i]!;
    if (weight === 0) continue;
    const offset = i * columns;
    for (let a = 0; a < columns; a++) {
      const fa = values[offset + a]! * weight;
      if (fa === 0) continue;
      const rowOffset = a * unknowns;
      for (let b = 0; b <= a; b++) hessian[rowOffset + b]! += fa * values[offset + b]!;
      if (problem.fitIntercept) hessian[columns * unknowns + a]! += fa;
    }
    if (problem.fitIntercept) hessian[columns * unknowns + columns]! += weight;
  }
  for (let a = 0; a < columns; a++) hessian[a * unknowns + a]! += 1;
  // A vanishing curvature (perfectly separated, saturated data) must not make the intercept row singular.
  if (problem.fitIntercept) hessian[columns * unknowns + columns]! += 1e-12;
  for (let a = 0; a < unknowns; a++)
    for (let b = a + 1; b < unknowns; b++) hessian[a * unknowns + b] = hessian[b * unknowns + a]!;
  const lower = decomposeCholesky(hessian, unknowns);
  return solveWithCholesky(
    lower,
    unknowns,
    gradient.map((value) => -value),
  );
}

/**
 * Halves the step until the objective decreases enough (Armijo, 1e-4) and not at all upward; on success
 * moves `parameters` and `decision` there and returns the new objective, else returns undefined.
 */
function searchLine(
  problem: Problem,
  state: {
    parameters: Float64Array;
    decision: Float64Array;
    objective: number;
    step: Float64Array;
    slope: number;
  },
): number | undefined {
  const trial = new Float64Array(problem.unknowns);
  let length = 1;
  for (let attempt = 0; attempt < 60; attempt++) {
    for (let k = 0; k < problem.unknowns; k++) trial[k] = state.parameters[k]! + length * state.step[k]!;
    const trialDecision = computeDecisionValues(problem, trial);
    const trialObjective = computeObjective(problem, trial, trialDecision);
    if (
      trialObjective <= state.objective + 1e-4 * length * state.slope &&
      trialObjective <= state.objective
    ) {
      state.parameters.set(trial);
      state.decision.set(trialDecision);
      return trialObjective;
    }
    length /= 2;
  }
  return undefined;
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
