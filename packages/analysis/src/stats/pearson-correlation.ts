import { TraitlensError } from '@traitlens/core';
import { computeMean } from './sample-statistics';
import { computeTwoSidedTPValue } from './welch-t-test';

export interface CorrelationResult {
  r: number;
  /** Two-sided p-value of r = 0 (t with n - 2 degrees of freedom). */
  p: number;
  n: number;
}

/** Pearson's r with its two-sided p-value (scipy `pearsonr`). NaN when either variable is constant. */
export function computePearsonCorrelation(x: ArrayLike<number>, y: ArrayLike<number>): CorrelationResult {
  const n = x.length;
  if (y.length !== n)
    throw new TraitlensError(
      'SHAPE_MISMATCH',
      `A correlation needs equally long variables, got ${n} and ${y.length} values.`,
    );
  const meanX = computeMean(x);
  const meanY = computeMean(y);
  let sxx = 0;
  let syy = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i]! - meanX;
    const dy = y[i]! - meanY;
    sxx += dx * dx;
    syy += dy * dy;
    sxy += dx * dy;
  }
  if (n < 2 || sxx === 0 || syy === 0) return { r: Number.NaN, p: Number.NaN, n };
  const r = Math.max(-1, Math.min(1, sxy / Math.sqrt(sxx * syy)));
  if (n < 3) return { r, p: 1, n };
  if (Math.abs(r) === 1) return { r, p: 0, n };
  const t = r * Math.sqrt((n - 2) / ((1 - r) * (1 + r)));
  return { r, p: computeTwoSidedTPValue(t, n - 2), n };
}

/**
 * Point-biserial correlation of a continuous variable with a binary label (scipy `pointbiserialr`): Pearson's
 * r with the label coded 0/1, so a positive r means higher values go with label 1.
 */
export function computePointBiserialCorrelation(
  values: ArrayLike<number>,
  labels: ArrayLike<number>,
): CorrelationResult {
  return computePearsonCorrelation(values, labels);
}
