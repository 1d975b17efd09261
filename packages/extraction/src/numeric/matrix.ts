import { TraitlensError } from '@traitlens/core';

/**
 * A dense row-major float32 matrix: `rows` samples of `columns` features (activations are [n, D]).
 * A plain object rather than a class, so callers can wrap any Float32Array (a safetensors view, a
 * captured activation) without copying.
 */
export interface Matrix {
  readonly rows: number;
  readonly columns: number;
  readonly data: Float32Array;
}

/** Wraps (or allocates) row-major data as a matrix, checking that the sizes agree. */
export function createMatrix(
  rows: number,
  columns: number,
  data: Float32Array = new Float32Array(rows * columns),
): Matrix {
  if (!Number.isInteger(rows) || !Number.isInteger(columns) || rows < 0 || columns < 0) {
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      `A matrix needs whole, non-negative sizes; got ${rows} x ${columns}.`,
    );
  }
  if (data.length !== rows * columns) {
    throw new TraitlensError(
      'SHAPE_MISMATCH',
      `Matrix data has ${data.length} values but ${rows} x ${columns} needs ${rows * columns}.`,
      {
        details: { rows, columns, length: data.length },
      },
    );
  }
  return { rows, columns, data };
}

/** Stacks equal-length vectors as the rows of a new matrix. */
export function createMatrixFromRows(rowVectors: readonly ArrayLike<number>[], columns?: number): Matrix {
  const width = columns ?? rowVectors[0]?.length ?? 0;
  const data = new Float32Array(rowVectors.length * width);
  rowVectors.forEach((row, index) => {
    if (row.length !== width) {
      throw new TraitlensError(
        'SHAPE_MISMATCH',
        `Row ${index} has ${row.length} values; every row needs ${width}.`,
        { details: { row: index } },
      );
    }
    data.set(row, index * width);
  });
  return { rows: rowVectors.length, columns: width, data };
}

/** A view (no copy) of one row. */
export function getMatrixRow(matrix: Matrix, row: number): Float32Array {
  return matrix.data.subarray(row * matrix.columns, (row + 1) * matrix.columns);
}

/** A copy holding the given rows, in the given order. */
export function selectMatrixRows(matrix: Matrix, rowIndices: readonly number[]): Matrix {
  const data = new Float32Array(rowIndices.length * matrix.columns);
  rowIndices.forEach((row, index) => {
    data.set(getMatrixRow(matrix, row), index * matrix.columns);
  });
  return { rows: rowIndices.length, columns: matrix.columns, data };
}

/** Column means, accumulated in float64 so large activations (norms in the thousands) lose nothing. */
export function computeColumnMeans(matrix: Matrix): Float64Array {
  const { rows, columns, data } = matrix;
  const sums = new Float64Array(columns);
  for (let row = 0; row < rows; row++) {
    const offset = row * columns;
    for (let column = 0; column < columns; column++) sums[column]! += data[offset + column]!;
  }
  if (rows > 0) for (let column = 0; column < columns; column++) sums[column]! /= rows;
  return sums;
}

/** The L2 norm of every row. */
export function computeRowNorms(matrix: Matrix): Float64Array {
  const { rows, columns, data } = matrix;
  const norms = new Float64Array(rows);
  for (let row = 0; row < rows; row++) {
    const offset = row * columns;
    let sum = 0;
    for (let column = 0; column < columns; column++) {
      const value = data[offset + column]!;
      sum += value * value;
    }
    norms[row] = Math.sqrt(sum);
  }
  return norms;
}

/** matrix . vector for every row (dot products, not cosines). */
export function multiplyMatrixVector(matrix: Matrix, vector: ArrayLike<number>): Float64Array {
  const { rows, columns, data } = matrix;
  if (vector.length !== columns) {
    throw new TraitlensError(
      'SHAPE_MISMATCH',
      `Cannot project ${columns}-wide rows onto a vector of length ${vector.length}.`,
    );
  }
  const out = new Float64Array(rows);
  for (let row = 0; row < rows; row++) {
    const offset = row * columns;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let column = 0;
    for (; column + 3 < columns; column += 4) {
      s0 += data[offset + column]! * vector[column]!;
      s1 += data[offset + column + 1]! * vector[column + 1]!;
      s2 += data[offset + column + 2]! * vector[column + 2]!;
      s3 += data[offset + column + 3]! * vector[column + 3]!;
    }
    for (; column < columns; column++) s0 += data[offset + column]! * vector[column]!;
    out[row] = s0 + s1 + s2 + s3;
  }
  return out;
}

/** weights^T . matrix: a weighted sum of the rows (length `columns`), in float64. */
export function combineMatrixRows(matrix: Matrix, weights: ArrayLike<number>): Float64Array {
  const { rows, columns, data } = matrix;
  if (weights.length !== rows) {
    throw new TraitlensError('SHAPE_MISMATCH', `Need one weight per row (${rows}); got ${weights.length}.`);
  }
  const out = new Float64Array(columns);
  for (let row = 0; row < rows; row++) {
    const weight = weights[row]!;
    if (weight === 0) continue;
    const offset = row * columns;
    for (let column = 0; column < columns; column++) out[column]! += weight * data[offset + column]!;
  }
  return out;
}
