import normalCdf from '@stdlib/stats-base-dists-normal-cdf';
import { TraitlensError } from '@traitlens/core';

export interface WilcoxonSignedRankResult {
  /** min(W+, W-): the smaller signed-rank sum (scipy's two-sided statistic). */
  statistic: number;
  /** Two-sided p-value. */
  p: number;
  /** Non-zero differences that were ranked (zero differences are dropped, scipy's "wilcox" rule). */
  n: number;
  /** `exact`: the permutation distribution of W+ (n <= 50, no ties); `normal`: tie-corrected normal approximation. */
  method: 'exact' | 'normal';
}

/** Mid-ranks (1-based, ties get their average rank) of |values|; also whether any tie occurred. */
function rankAbsolute(values: Float64Array): { ranks: Float64Array; tieTerm: number } {
  const order = Array.from(values, (_, i) => i).sort((x, y) => Math.abs(values[x]!) - Math.abs(values[y]!));
  const ranks = new Float64Array(values.length);
  let tieTerm = 0;
  for (let start = 0; start < order.length; ) {
    let end = start + 1;
    while (end < order.length && Math.abs(values[order[end]!]!) === Math.abs(values[order[start]!]!)) end++;
    const rank = (start + end + 1) / 2;
    for (let i = start; i < end; i++) ranks[order[i]!] = rank;
    const size = end - start;
    if (size > 1) tieTerm += size * (size * size - 1);
    start = end;
  }
  return { ranks, tieTerm };
}

/** Counts of each W+ in 0..n(n+1)/2 over all 2^n sign patterns (exact null distribution, as doubles). */
function exactSignedRankCounts(n: number): Float64Array {
  const maximum = (n * (n + 1)) / 2;
  const counts = new Float64Array(maximum + 1);
  counts[0] = 1;
  for (let rank = 1; rank <= n; rank++)
    for (let sum = (rank * (rank + 1)) / 2; sum >= rank; sum--) counts[sum]! += counts[sum - rank]!;
  return counts;
}

/**
 * Wilcoxon signed-rank test of the paired differences a - b against a distribution symmetric about 0
 * (scipy `wilcoxon(a, b)` with its defaults: zero differences dropped, no continuity correction). Exact
 * for up to 50 differences without ties or zeros, as scipy's "auto" mode; otherwise the normal
 * approximation with the tie correction of the variance.
 */
export function computeWilcoxonSignedRankTest(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
): WilcoxonSignedRankResult {
  if (a.length !== b.length) {
    throw new TraitlensError(
      'SHAPE_MISMATCH',
      `A Wilcoxon signed-rank test needs matched pairs, got ${a.length} and ${b.length} values.`,
    );
  }
  let zeros = 0;
  const kept: number[] = [];
  for (let i = 0; i < a.length; i++) {
    const difference = a[i]! - b[i]!;
    if (Number.isNaN(difference)) return { statistic: Number.NaN, p: Number.NaN, n: 0, method: 'normal' };
    if (difference === 0) zeros++;
    else kept.push(difference);
  }
  const n = kept.length;
  if (n === 0) return { statistic: Number.NaN, p: Number.NaN, n: 0, method: 'normal' };
  const differences = Float64Array.from(kept);
  const { ranks, tieTerm } = rankAbsolute(differences);
  let plus = 0;
  let minus = 0;
  for (let i = 0; i < n; i++) {
    if (differences[i]! > 0) plus += ranks[i]!;
    else minus += ranks[i]!;
  }
  const statistic = Math.min(plus, minus);
  if (n <= 50 && tieTerm === 0 && zeros === 0) {
    const counts = exactSignedRankCounts(n);
    const total = 2 ** n;
    const observed = Math.round(plus);
    if (2 * observed === counts.length - 1) return { statistic, p: 1, n, method: 'exact' };
    let below = 0;
    for (let s = 0; s <= observed; s++) below += counts[s]!;
    let above = 0;
    for (let s = observed; s < counts.length; s++) above += counts[s]!;
    return { statistic, p: Math.min(1, (2 * Math.min(below, above)) / total), n, method: 'exact' };
  }
  const mean = (n * (n + 1)) / 4;
  const variance = (n * (n + 1) * (2 * n + 1) - tieTerm / 2) / 24;
  const z = (statistic - mean) / Math.sqrt(variance);
  return { statistic, p: variance > 0 ? 2 * normalCdf(-Math.abs(z), 0, 1) : Number.NaN, n, method: 'normal' };
}
