import { computeStudentTCdf } from '@traitlens/core/internal';
import { computeMean, computeStandardDeviation } from './sample-statistics';

/** The t quantile of `probability` with the given degrees of freedom, by bisection on the CDF (1e-12). */
export function computeTQuantile(probability: number, degreesOfFreedom: number): number {
  let low = -1e3;
  let high = 1e3;
  for (let i = 0; i < 200 && high - low > 1e-12; i++) {
    const middle = (low + high) / 2;
    if (computeStudentTCdf(middle, degreesOfFreedom) < probability) low = middle;
    else high = middle;
  }
  return (low + high) / 2;
}

/**
 * Two-sided t-interval of a mean (scipy `t.interval(confidence, n - 1, mean, sd / sqrt(n))`): NaN bounds
 * with fewer than 2 finite values.
 */
export function computeMeanConfidenceInterval(
  values: ArrayLike<number>,
  confidence = 0.95,
): { mean: number; low: number; high: number; n: number } {
  const finite = Float64Array.from(values).filter((value) => Number.isFinite(value));
  const n = finite.length;
  const mean = n > 0 ? computeMean(finite) : Number.NaN;
  if (n < 2) return { mean, low: Number.NaN, high: Number.NaN, n };
  const half =
    computeTQuantile(1 - (1 - confidence) / 2, n - 1) * (computeStandardDeviation(finite) / Math.sqrt(n));
  return { mean, low: mean - half, high: mean + half, n };
}
