import { TraitlensError } from '@traitlens/core';

/** A dense row-major matrix of samples x features. */
export interface FeatureMatrix {
  values: Float64Array;
  rows: number;
  columns: number;
}

export function createFeatureMatrix(
  rows: number,
  columns: number,
  values = new Float64Array(rows * columns),
): FeatureMatrix {
  if (values.length !== rows * columns) {
    throw new TraitlensError(
      'SHAPE_MISMATCH',
      `A ${rows} x ${columns} feature matrix needs ${rows * columns} values, got ${values.length}.`,
    );
  }
  return { values, rows, columns };
}

/** The rows at `indices`, in that order. */
export function selectRows(matrix: FeatureMatrix, indices: ArrayLike<number>): FeatureMatrix {
  const out = new Float64Array(indices.length * matrix.columns);
  for (let r = 0; r < indices.length; r++) {
    const source = indices[r]! * matrix.columns;
    out.set(matrix.values.subarray(source, source + matrix.columns), r * matrix.columns);
  }
  return { values: out, rows: indices.length, columns: matrix.columns };
}

export interface FeatureScaling {
  means: Float64Array;
  /** Population sd (ddof = 0, as sklearn's StandardScaler); 1 where a feature is constant. */
  scales: Float64Array;
}

/** Per-feature mean and sd of a (training) matrix, to standardise it and any later matrix alike. */
export function fitFeatureScaling(matrix: FeatureMatrix): FeatureScaling {
  const { rows, columns, values } = matrix;
  const means = new Float64Array(columns);
  const scales = new Float64Array(columns);
  for (let r = 0; r < rows; r++) for (let c = 0; c < columns; c++) means[c]! += values[r * columns + c]!;
  for (let c = 0; c < columns; c++) means[c]! /= rows;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < columns; c++) {
      const deviation = values[r * columns + c]! - means[c]!;
      scales[c]! += deviation * deviation;
    }
  }
  for (let c = 0; c < columns; c++) {
    const sd = Math.sqrt(scales[c]! / rows);
    scales[c] = sd > 0 ? sd : 1;
  }
  return { means, scales };
}

export function applyFeatureScaling(matrix: FeatureMatrix, scaling: FeatureScaling): FeatureMatrix {
  const { rows, columns, values } = matrix;
  const out = new Float64Array(values.length);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < columns; c++)
      out[r * columns + c] = (values[r * columns + c]! - scaling.means[c]!) / scaling.scales[c]!;
  }
  return { values: out, rows, columns };
}
