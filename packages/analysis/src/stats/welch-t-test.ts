import tCdf from '@stdlib/stats-base-dists-t-cdf';
import { computeMean, computeVariance } from './sample-statistics';

export interface TTestResult {
  t: number;
  degreesOfFreedom: number;
  /** Two-sided p-value. */
  p: number;
}

/** Two-sided p-value of a t statistic (survival function on |t|, as scipy computes it). */
export function computeTwoSidedTPValue(t: number, degreesOfFreedom: number): number {
  if (Number.isNaN(t) || !(degreesOfFreedom > 0)) return Number.NaN;
  if (!Number.isFinite(t)) return 0;
  return 2 * tCdf(-Math.abs(t), degreesOfFreedom);
}

/** Welch's unequal-variance t-test of mean(a) against mean(b) (scipy `ttest_ind(equal_var=False)`). */
export function computeWelchTTest(a: ArrayLike<number>, b: ArrayLike<number>): TTestResult {
  const na = a.length;
  const nb = b.length;
  const va = computeVariance(a) / na;
  const vb = computeVariance(b) / nb;
  const standardError = Math.sqrt(va + vb);
  const gap = computeMean(a) - computeMean(b);
  const t =
    standardError === 0
      ? gap === 0
        ? Number.NaN
        : gap > 0
          ? Number.POSITIVE_INFINITY
          : Number.NEGATIVE_INFINITY
      : gap / standardError;
  const degreesOfFreedom = ((va + vb) * (va + vb)) / ((va * va) / (na - 1) + (vb * vb) / (nb - 1));
  return { t, degreesOfFreedom, p: computeTwoSidedTPValue(t, degreesOfFreedom) };
}
