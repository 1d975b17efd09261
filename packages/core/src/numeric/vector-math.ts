/** Small dense helpers over float arrays, accumulating in float64 (JS numbers) for stability. */

export type FloatArray = Float32Array | Float64Array;

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!;
  return sum;
}

export function l2Norm(a: ArrayLike<number>): number {
  return Math.sqrt(dot(a, a));
}

/** Cosine similarity; 0 when either vector is zero. */
export function cosineSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const denominator = l2Norm(a) * l2Norm(b);
  return denominator === 0 ? 0 : dot(a, b) / denominator;
}

/** A unit-norm copy (a zero vector stays zero). */
export function normalizeVector(a: ArrayLike<number>): Float32Array {
  const norm = l2Norm(a);
  const out = new Float32Array(a.length);
  if (norm === 0) return out;
  for (let i = 0; i < a.length; i++) out[i] = a[i]! / norm;
  return out;
}
