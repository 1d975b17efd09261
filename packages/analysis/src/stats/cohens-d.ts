import { TraitlensError } from '@traitlens/core';
import { computeMean, computeStandardDeviation, computeVariance, subtractSamples } from './sample-statistics';

/**
 * Unpaired Cohen's d of `a` against `b`: (mean(a) - mean(b)) / sqrt((sd_a^2 + sd_b^2) / 2), the pooled sd
 * of docs/study-method.md §3.6 and §6 (equal weight per group, whatever the group sizes). 0 when both
 * groups are constant and equal; +/-Infinity when they are constant and differ.
 */
export function computeCohensD(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const gap = computeMean(a) - computeMean(b);
  const pooled = Math.sqrt((computeVariance(a) + computeVariance(b)) / 2);
  if (pooled === 0) return gap === 0 ? 0 : gap > 0 ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
  return gap / pooled;
}

/**
 * Paired Cohen's d (d_z): mean(a - b) / sd(a - b) over matched pairs. NaN (written as null) when every
 * difference is 0: 0/0 is undefined, not "no effect" (identical variants carry no evidence either way).
 */
export function computePairedCohensD(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) {
    throw new TraitlensError(
      'SHAPE_MISMATCH',
      `Paired Cohen's d needs matched pairs, got ${a.length} and ${b.length} values.`,
    );
  }
  const differences = subtractSamples(a, b);
  const mean = computeMean(differences);
  const sd = computeStandardDeviation(differences);
  if (sd === 0)
    return mean === 0 ? Number.NaN : mean > 0 ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
  return mean / sd;
}
