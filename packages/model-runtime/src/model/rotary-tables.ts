/**
 * cos and sin of the rotary angles `position * inverseFrequency` for the positions of one run, computed in
 * float64 and rounded once to float32 ([positions.length, hd/2] row-major). The graph takes these as
 * inputs instead of computing Sin/Cos itself: GPU sin/cos of unreduced angles lose up to 1e-2 at long
 * positions, while Math.cos/Math.sin reduce any double argument exactly, so every provider gets the same
 * correctly rounded values (error <= 6e-8, float32 rounding) at every position.
 */
export function rotaryTables(
  inverseFrequencies: Float64Array,
  positions: ArrayLike<number>,
): { cos: Float32Array; sin: Float32Array } {
  const half = inverseFrequencies.length;
  const cos = new Float32Array(positions.length * half);
  const sin = new Float32Array(positions.length * half);
  for (let t = 0; t < positions.length; t++) {
    const position = positions[t]!;
    for (let i = 0; i < half; i++) {
      const angle = position * inverseFrequencies[i]!;
      cos[t * half + i] = Math.cos(angle);
      sin[t * half + i] = Math.sin(angle);
    }
  }
  return { cos, sin };
}
