import { computeStudentTTwoSidedPValue } from '@traitlens/core/internal';
import { computeSummaryStatistics } from './summary-statistics';

/** Student's two-sample t-test with pooled variance (scipy.stats.ttest_ind's default). */
export interface StudentTTestResult {
  t: number;
  degreesOfFreedom: number;
  /** Two-sided p-value; NaN when the test is undefined (fewer than 3 samples or zero variance). */
  pValue: number;
}

export function computeStudentTTest(first: ArrayLike<number>, second: ArrayLike<number>): StudentTTestResult {
  const a = computeSummaryStatistics(first);
  const b = computeSummaryStatistics(second);
  const degreesOfFreedom = a.count + b.count - 2;
  if (a.count < 1 || b.count < 1 || degreesOfFreedom < 1)
    return { t: Number.NaN, degreesOfFreedom, pValue: Number.NaN };
  const varianceA = a.count > 1 ? a.standardDeviation ** 2 : 0;
  const varianceB = b.count > 1 ? b.standardDeviation ** 2 : 0;
  const pooledVariance = ((a.count - 1) * varianceA + (b.count - 1) * varianceB) / degreesOfFreedom;
  const standardError = Math.sqrt(pooledVariance * (1 / a.count + 1 / b.count));
  if (!(standardError > 0)) return { t: Number.NaN, degreesOfFreedom, pValue: Number.NaN };
  const t = (a.mean - b.mean) / standardError;
  return { t, degreesOfFreedom, pValue: computeStudentTTwoSidedPValue(t, degreesOfFreedom) };
}
