import { computeRowNorms, type Matrix, multiplyMatrixVector } from '../numeric/matrix';

/**
 * cos(row, vector) for every row. Evaluation uses cosines rather than dot products because late-layer
 * activation norms are several times larger than early ones; cosines compare layers fairly. A zero row
 * or vector gives 0.
 */
export function computeCosineProjections(
  matrix: Matrix,
  vector: ArrayLike<number>,
  rowNorms: Float64Array = computeRowNorms(matrix),
): Float64Array {
  const dots = multiplyMatrixVector(matrix, vector);
  let squared = 0;
  for (let i = 0; i < vector.length; i++) squared += vector[i]! * vector[i]!;
  const vectorNorm = Math.sqrt(squared);
  for (let row = 0; row < dots.length; row++) {
    const denominator = rowNorms[row]! * vectorNorm;
    dots[row] = denominator > 0 ? dots[row]! / denominator : 0;
  }
  return dots;
}
