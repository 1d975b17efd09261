import { TraitlensError } from '@traitlens/core';
import { computeMean, computeStandardDeviation, subtractSamples } from './sample-statistics';
import { computeTwoSidedTPValue, type TTestResult } from './welch-t-test';

/** Paired t-test of mean(a - b) against 0 (scipy `ttest_rel`). */
export function computePairedTTest(a: ArrayLike<number>, b: ArrayLike<number>): TTestResult {
  if (a.length !== b.length) {
    throw new TraitlensError(
      'SHAPE_MISMATCH',
      `A paired t-test needs matched pairs, got ${a.length} and ${b.length} values.`,
    );
  }
  const differences = subtractSamples(a, b);
  const n = differences.length;
  const mean = computeMean(differences);
  const standardError = computeStandardDeviation(differences) / Math.sqrt(n);
  const t =
    standardError === 0
      ? mean === 0
        ? Number.NaN
        : mean > 0
          ? Number.POSITIVE_INFINITY
          : Number.NEGATIVE_INFINITY
      : mean / standardError;
  const degreesOfFreedom = n - 1;
  return { t, degreesOfFreedom, p: computeTwoSidedTPValue(t, degreesOfFreedom) };
}
