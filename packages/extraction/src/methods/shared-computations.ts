import { TraitlensError } from '@traitlens/core';
import { computeGramMatrix } from '../numeric/gram-matrix';
import { computeColumnMeans, computeRowNorms, type Matrix } from '../numeric/matrix';

/**
 * Per-layer quantities several methods need, computed once on first use. Rows are stacked positives
 * first, then negatives: row i < positiveCount is positive i, row positiveCount + j is negative j.
 */
export interface SharedComputations {
  readonly positiveCount: number;
  readonly negativeCount: number;
  /** Both classes stacked [n_pos + n_neg, D]. */
  stackedRows(): Matrix;
  positiveMean(): Float64Array;
  negativeMean(): Float64Array;
  /** L2 norm of each stacked row. */
  rowNorms(): Float64Array;
  /** Inner products of the stacked rows, (n_pos + n_neg)^2, float64. */
  gramMatrix(): Float64Array;
}

export function createSharedComputations(positive: Matrix, negative: Matrix): SharedComputations {
  if (positive.columns !== negative.columns) {
    throw new TraitlensError(
      'SHAPE_MISMATCH',
      `Positive activations have width ${positive.columns} but negative ones ${negative.columns}.`,
    );
  }
  const memo = new Map<string, unknown>();
  const remember = <T>(key: string, compute: () => T): T => {
    if (!memo.has(key)) memo.set(key, compute());
    return memo.get(key) as T;
  };
  const stackedRows = (): Matrix =>
    remember('stacked', () => {
      const data = new Float32Array((positive.rows + negative.rows) * positive.columns);
      data.set(positive.data, 0);
      data.set(negative.data, positive.data.length);
      return { rows: positive.rows + negative.rows, columns: positive.columns, data };
    });
  return {
    positiveCount: positive.rows,
    negativeCount: negative.rows,
    stackedRows,
    positiveMean: () => remember('positiveMean', () => computeColumnMeans(positive)),
    negativeMean: () => remember('negativeMean', () => computeColumnMeans(negative)),
    rowNorms: () => remember('rowNorms', () => computeRowNorms(stackedRows())),
    gramMatrix: () => remember('gram', () => computeGramMatrix(stackedRows())),
  };
}
