/**
 * The q-quantile (0..1) of already sorted values with linear interpolation between order statistics,
 * numpy's default (`np.quantile(..., method="linear")`).
 */
export function computeSortedQuantile(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const position = q * (n - 1);
  const lower = Math.floor(position);
  const upper = Math.min(lower + 1, n - 1);
  const fraction = position - lower;
  const low = sorted[lower]!;
  const high = sorted[upper]!;
  if (fraction === 0) return low;
  // numpy's lerp: from the nearer end, so the result is exact at both ends and monotone.
  const difference = high - low;
  return fraction >= 0.5 ? high - difference * (1 - fraction) : low + difference * fraction;
}

/** The q-quantile of unsorted values (they are copied, not reordered). */
export function computeQuantile(values: ArrayLike<number>, q: number): number {
  return computeSortedQuantile(Float64Array.from(values).sort(), q);
}
