/** Mean and sample standard deviation (n - 1 denominator, as torch.std and numpy's ddof=1). */
export interface SummaryStatistics {
  count: number;
  mean: number;
  /** NaN when count < 2. */
  standardDeviation: number;
}

export function computeSummaryStatistics(values: ArrayLike<number>): SummaryStatistics {
  const count = values.length;
  let sum = 0;
  for (let i = 0; i < count; i++) sum += values[i]!;
  const mean = count > 0 ? sum / count : Number.NaN;
  let squares = 0;
  for (let i = 0; i < count; i++) {
    const delta = values[i]! - mean;
    squares += delta * delta;
  }
  return { count, mean, standardDeviation: count > 1 ? Math.sqrt(squares / (count - 1)) : Number.NaN };
}
