import type { Matrix } from './matrix';

/** Columns per cache block: four rows of 1024 float32 stay in L1/L2 while every other row streams past. */
const columnBlock = 1024;

/**
 * X X^T (rows x rows, float64) for a row-major matrix. Methods work in this n x n space because trait
 * data sets have n (a few hundred samples) << D (thousands of features): everything the probe and
 * pca_diff need is a function of the inner products, so D enters only here, once per layer.
 *
 * Tuned for V8: four rows share each streamed row (register blocking), columns are processed in cache
 * blocks, and only the lower triangle is computed.
 */
export function computeGramMatrix(matrix: Matrix): Float64Array {
  const { rows, columns, data } = matrix;
  const gram = new Float64Array(rows * rows);
  for (let start = 0; start < columns; start += columnBlock) {
    const end = Math.min(columns, start + columnBlock);
    let row = 0;
    for (; row + 3 < rows; row += 4) {
      const a0 = row * columns;
      const a1 = a0 + columns;
      const a2 = a1 + columns;
      const a3 = a2 + columns;
      for (let other = 0; other <= row + 3; other++) {
        const b = other * columns;
        let s0 = 0;
        let s1 = 0;
        let s2 = 0;
        let s3 = 0;
        for (let k = start; k < end; k++) {
          const x = data[b + k]!;
          s0 += data[a0 + k]! * x;
          s1 += data[a1 + k]! * x;
          s2 += data[a2 + k]! * x;
          s3 += data[a3 + k]! * x;
        }
        gram[row * rows + other]! += s0;
        gram[(row + 1) * rows + other]! += s1;
        gram[(row + 2) * rows + other]! += s2;
        gram[(row + 3) * rows + other]! += s3;
      }
    }
    for (; row < rows; row++) {
      const a = row * columns;
      for (let other = 0; other <= row; other++) {
        const b = other * columns;
        let s0 = 0;
        let s1 = 0;
        let k = start;
        for (; k + 1 < end; k += 2) {
          s0 += data[a + k]! * data[b + k]!;
          s1 += data[a + k + 1]! * data[b + k + 1]!;
        }
        if (k < end) s0 += data[a + k]! * data[b + k]!;
        gram[row * rows + other]! += s0 + s1;
      }
    }
  }
  // The blocked loop also touched a few entries above the diagonal; the lower triangle is authoritative.
  for (let row = 0; row < rows; row++) {
    for (let other = row + 1; other < rows; other++) gram[row * rows + other] = gram[other * rows + row]!;
  }
  return gram;
}
