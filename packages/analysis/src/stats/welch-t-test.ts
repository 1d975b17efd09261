import { computeStudentTTwoSidedPValue } from '@traitlens/core/internal';
import { computeMean, computeVariance } from './sample-statistics';

export interface TTestResult {
  t: number;
  degreesOfFreedom: number;
  /** Two-sided p-value. */
  p: number;
}

/** Two-sided p-value of a t statistic (core's Student t: scipy's survival function on |t|, doubled). */
export function computeTwoSidedTPValue(t: number, degreesOfFreedom: number): number {
  return computeStudentTTwoSidedPValue(t, degreesOfFreedom);
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
