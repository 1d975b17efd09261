/**
 * Multiple-comparison adjustments over one family of p-values. NaN entries (tests that could not be run)
 * are left NaN and do not count towards the family size m.
 */

function finiteOrder(pValues: ArrayLike<number>): number[] {
  const order: number[] = [];
  for (let i = 0; i < pValues.length; i++) if (!Number.isNaN(pValues[i]!)) order.push(i);
  return order.sort((x, y) => pValues[x]! - pValues[y]!);
}

/**
 * Holm's step-down adjustment (family-wise error rate): sorted ascending, p_(i) * (m - i + 1), made
 * non-decreasing and capped at 1 (statsmodels `multipletests(method='holm')`).
 */
export function adjustPValuesHolm(pValues: ArrayLike<number>): Float64Array {
  const out = new Float64Array(pValues.length).fill(Number.NaN);
  const order = finiteOrder(pValues);
  const m = order.length;
  let running = 0;
  order.forEach((index, rank) => {
    running = Math.max(running, Math.min(1, (m - rank) * pValues[index]!));
    out[index] = running;
  });
  return out;
}

/**
 * Benjamini-Hochberg step-up adjustment (false-discovery rate): sorted ascending, p_(i) * m / i, made
 * non-increasing from the top and capped at 1 (statsmodels `multipletests(method='fdr_bh')`).
 */
export function adjustPValuesBenjaminiHochberg(pValues: ArrayLike<number>): Float64Array {
  const out = new Float64Array(pValues.length).fill(Number.NaN);
  const order = finiteOrder(pValues);
  const m = order.length;
  let running = 1;
  for (let rank = m - 1; rank >= 0; rank--) {
    const index = order[rank]!;
    running = Math.min(running, (pValues[index]! * m) / (rank + 1));
    out[index] = Math.min(1, running);
  }
  return out;
}
