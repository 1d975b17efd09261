import { TraitlensError } from '../errors/traitlens-error';

/**
 * Cholesky factor L (lower triangle, row-major n x n) of a symmetric positive-definite matrix, so that
 * A = L L^T. Throws when A is not positive definite.
 */
export function decomposeCholesky(matrix: ArrayLike<number>, size: number): Float64Array {
  const lower = new Float64Array(size * size);
  for (let row = 0; row < size; row++) {
    for (let column = 0; column <= row; column++) {
      let sum = matrix[row * size + column]!;
      for (let k = 0; k < column; k++) sum -= lower[row * size + k]! * lower[column * size + k]!;
      if (row === column) {
        if (!(sum > 0)) {
          throw new TraitlensError(
            'RUNTIME_ERROR',
            `Cholesky decomposition failed at pivot ${row} (value ${sum}): the matrix is not positive definite.`,
          );
        }
        lower[row * size + row] = Math.sqrt(sum);
      } else {
        lower[row * size + column] = sum / lower[column * size + column]!;
      }
    }
  }
  return lower;
}

/** Solves A x = b given A's Cholesky factor (forward then back substitution). */
export function solveWithCholesky(
  lower: Float64Array,
  size: number,
  rightHandSide: ArrayLike<number>,
): Float64Array {
  const y = new Float64Array(size);
  for (let row = 0; row < size; row++) {
    let sum = rightHandSide[row]!;
    for (let k = 0; k < row; k++) sum -= lower[row * size + k]! * y[k]!;
    y[row] = sum / lower[row * size + row]!;
  }
  const x = new Float64Array(size);
  for (let row = size - 1; row >= 0; row--) {
    let sum = y[row]!;
    for (let k = row + 1; k < size; k++) sum -= lower[k * size + row]! * x[k]!;
    x[row] = sum / lower[row * size + row]!;
  }
  return x;
}

/** A low-rank factor F (n x rank, row-major, rows in the original order) with F F^T ~= A. */
export interface LowRankFactor {
  rank: number;
  factor: Float64Array;
}

/**
 * Pivoted (rank-revealing) Cholesky of a symmetric positive-semidefinite n x n matrix: stops when every
 * remaining diagonal entry is below `relativeTolerance` x the largest diagonal, so a Gram matrix of n
 * samples in D < n dimensions yields rank <= D instead of failing.
 */
export function decomposePivotedCholesky(
  matrix: Float64Array,
  size: number,
  relativeTolerance = 1e-12,
): LowRankFactor {
  const residualDiagonal = new Float64Array(size);
  let largest = 0;
  for (let i = 0; i < size; i++) {
    residualDiagonal[i] = matrix[i * size + i]!;
    largest = Math.max(largest, residualDiagonal[i]!);
  }
  const columns: Float64Array[] = [];
  const used = new Uint8Array(size);
  const threshold = largest * relativeTolerance;
  while (columns.length < size) {
    let pivot = -1;
    let pivotValue = threshold;
    for (let i = 0; i < size; i++) {
      if (!used[i] && residualDiagonal[i]! > pivotValue) {
        pivot = i;
        pivotValue = residualDiagonal[i]!;
      }
    }
    if (pivot < 0) break;
    used[pivot] = 1;
    const scale = Math.sqrt(pivotValue);
    const column = new Float64Array(size);
    for (let i = 0; i < size; i++) {
      if (used[i] && i !== pivot) continue;
      let value = matrix[i * size + pivot]!;
      for (const previous of columns) value -= previous[i]! * previous[pivot]!;
      column[i] = value / scale;
    }
    column[pivot] = scale;
    for (let i = 0; i < size; i++) if (!used[i]) residualDiagonal[i]! -= column[i]! * column[i]!;
    columns.push(column);
  }
  const rank = columns.length;
  const factor = new Float64Array(size * rank);
  columns.forEach((column, k) => {
    for (let i = 0; i < size; i++) factor[i * rank + k] = column[i]!;
  });
  return { rank, factor };
}
