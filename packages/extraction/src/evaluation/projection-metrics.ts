import { computeAurocOfClasses as computeAuroc } from '@traitlens/core/internal';
import { computeStudentTTest } from '../numeric/student-t-test';
import { computeSummaryStatistics } from '../numeric/summary-statistics';

/**
 * How well one set of projections separates the classes (docs/study-method.md §3.6). Values that are
 * undefined for the data (a standard deviation of one sample, a zero pooled sd) are null, never NaN,
 * so evaluation.json stays valid JSON.
 */
export interface ProjectionMetrics {
  positiveCount: number;
  negativeCount: number;
  positiveMean: number;
  negativeMean: number;
  /** Sample standard deviations (n - 1). */
  positiveStandardDeviation: number | null;
  negativeStandardDeviation: number | null;
  /** The decision threshold: the midpoint of the two class means. */
  threshold: number;
  /** Balanced accuracy at `threshold`: (share of positives above it + share of negatives at or below it) / 2. */
  accuracy: number;
  /** |mean_pos - mean_neg|. */
  meanGap: number;
  /** (mean_pos - mean_neg) / sqrt((sd_pos^2 + sd_neg^2) / 2); positive when positives project higher. */
  cohensD: number | null;
  /** Two-sided p of Student's two-sample t-test (pooled variance). */
  pValue: number | null;
  /** mean_pos > mean_neg. */
  polarityCorrect: boolean;
  /** P(a positive projects above a negative), ties counting half. */
  auroc: number | null;
  /** max(0, 1 - |d| / 4): a rough share of overlapping mass (0 at d >= 4). */
  overlap: number | null;
  /** (mean_pos - sd_pos) - (mean_neg + sd_neg): positive when one-sd bands do not touch. */
  margin: number | null;
}

function finiteOrNull(value: number): number | null {
  return Number.isFinite(value) ? value : null;
}

export function computeProjectionMetrics(
  positive: ArrayLike<number>,
  negative: ArrayLike<number>,
): ProjectionMetrics {
  const p = computeSummaryStatistics(positive);
  const n = computeSummaryStatistics(negative);
  const threshold = (p.mean + n.mean) / 2;
  let positiveAbove = 0;
  for (let i = 0; i < positive.length; i++) if (positive[i]! > threshold) positiveAbove++;
  let negativeAtOrBelow = 0;
  for (let i = 0; i < negative.length; i++) if (negative[i]! <= threshold) negativeAtOrBelow++;
  const accuracy = (positiveAbove / p.count + negativeAtOrBelow / n.count) / 2;
  const pooled = Math.sqrt((p.standardDeviation ** 2 + n.standardDeviation ** 2) / 2);
  const cohensD = pooled > 0 ? (p.mean - n.mean) / pooled : Number.NaN;
  return {
    positiveCount: p.count,
    negativeCount: n.count,
    positiveMean: p.mean,
    negativeMean: n.mean,
    positiveStandardDeviation: finiteOrNull(p.standardDeviation),
    negativeStandardDeviation: finiteOrNull(n.standardDeviation),
    threshold,
    accuracy,
    meanGap: Math.abs(p.mean - n.mean),
    cohensD: finiteOrNull(cohensD),
    pValue: finiteOrNull(computeStudentTTest(positive, negative).pValue),
    polarityCorrect: p.mean > n.mean,
    auroc: finiteOrNull(computeAuroc(positive, negative)),
    overlap: Number.isFinite(cohensD) ? Math.max(0, 1 - Math.abs(cohensD) / 4) : null,
    margin: finiteOrNull(p.mean - p.standardDeviation - (n.mean + n.standardDeviation)),
  };
}
