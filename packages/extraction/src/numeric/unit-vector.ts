/** A unit-norm float32 copy and the original norm (a zero vector stays zero, norm 0). */
export function normalizeToUnitFloat32(values: ArrayLike<number>): { vector: Float32Array; norm: number } {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i]! * values[i]!;
  const norm = Math.sqrt(sum);
  const vector = new Float32Array(values.length);
  if (norm > 0) for (let i = 0; i < values.length; i++) vector[i] = values[i]! / norm;
  return { vector, norm };
}

/** (mean_pos - mean_neg) . vector: how far the class means sit apart along `vector`. */
export function computeMeanSeparation(
  positiveMean: ArrayLike<number>,
  negativeMean: ArrayLike<number>,
  vector: ArrayLike<number>,
): number {
  let sum = 0;
  for (let i = 0; i < vector.length; i++) sum += (positiveMean[i]! - negativeMean[i]!) * vector[i]!;
  return sum;
}
