/** Descriptive statistics in float64, with the n-1 (sample) denominator that numpy's ddof=1 uses. */

export function computeMean(values: ArrayLike<number>): number {
  if (values.length === 0) return Number.NaN;
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i]!;
  return sum / values.length;
}

/** Sample variance (ddof = 1), two-pass for accuracy; NaN for fewer than two values. */
export function computeVariance(values: ArrayLike<number>): number {
  const n = values.length;
  if (n < 2) return Number.NaN;
  const mean = computeMean(values);
  let squares = 0;
  let residual = 0;
  for (let i = 0; i < n; i++) {
    const deviation = values[i]! - mean;
    squares += deviation * deviation;
    residual += deviation;
  }
  // The corrected two-pass formula removes the rounding left in the mean.
  return (squares - (residual * residual) / n) / (n - 1);
}

export function computeStandardDeviation(values: ArrayLike<number>): number {
  return Math.sqrt(computeVariance(values));
}

export interface SampleSummary {
  n: number;
  mean: number;
  sd: number;
}

export function summarizeSample(values: ArrayLike<number>): SampleSummary {
  return { n: values.length, mean: computeMean(values), sd: computeStandardDeviation(values) };
}

/** Element-wise a - b of two equally long samples. */
export function subtractSamples(a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! - b[i]!;
  return out;
}
