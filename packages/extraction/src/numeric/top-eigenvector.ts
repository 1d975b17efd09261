/** The leading eigenvector of a symmetric positive-semidefinite matrix, by power iteration. */
export interface TopEigenvector {
  vector: Float64Array;
  eigenvalue: number;
  iterations: number;
  converged: boolean;
}

/**
 * Power iteration from `start` (default: the all-ones vector, which for paired differences is the mean
 * difference, usually close to the answer). Converged when the iterate moves less than `tolerance`.
 */
export function computeTopEigenvector(
  matrix: Float64Array,
  size: number,
  options: { start?: ArrayLike<number>; tolerance?: number; maxIterations?: number } = {},
): TopEigenvector {
  const tolerance = options.tolerance ?? 1e-12;
  const maxIterations = options.maxIterations ?? 10_000;
  let current = new Float64Array(size);
  if (options.start) current.set(options.start);
  else current.fill(1);
  if (!normalizeInPlace(current)) current[0] = 1;
  let next = new Float64Array(size);
  let eigenvalue = 0;
  for (let iteration = 1; iteration <= maxIterations; iteration++) {
    for (let row = 0; row < size; row++) {
      let sum = 0;
      const offset = row * size;
      for (let column = 0; column < size; column++) sum += matrix[offset + column]! * current[column]!;
      next[row] = sum;
    }
    eigenvalue = 0;
    for (let i = 0; i < size; i++) eigenvalue += next[i]! * current[i]!;
    if (!normalizeInPlace(next)) {
      // The start vector lies in the null space; restart from a basis vector.
      next.fill(0);
      next[(iteration - 1) % size] = 1;
    }
    let change = 0;
    for (let i = 0; i < size; i++) change = Math.max(change, Math.abs(next[i]! - current[i]!));
    [current, next] = [next, current];
    if (change < tolerance) return { vector: current, eigenvalue, iterations: iteration, converged: true };
  }
  return { vector: current, eigenvalue, iterations: maxIterations, converged: false };
}

function normalizeInPlace(vector: Float64Array): boolean {
  let sum = 0;
  for (let i = 0; i < vector.length; i++) sum += vector[i]! * vector[i]!;
  const norm = Math.sqrt(sum);
  if (!(norm > 0)) return false;
  for (let i = 0; i < vector.length; i++) vector[i]! /= norm;
  return true;
}
