import { TraitlensError } from '@traitlens/core';
import { computeSortedQuantile } from './quantile';
import { createSeededRandom } from './seeded-random';

export interface BootstrapOptions {
  /** Number of resamples (default 1000). */
  resamples?: number;
  /** Two-sided confidence level (default 0.95). */
  confidence?: number;
  seed?: number;
}

export interface ConfidenceInterval {
  low: number;
  high: number;
  confidence: number;
  resamples: number;
}

/**
 * Percentile bootstrap interval of a statistic of `sampleCount` units (prompts): each resample draws unit
 * indices with replacement and passes them to `statistic`, so paired data (A and B of one prompt) stay
 * together. Resamples where the statistic is not finite are dropped from the percentile computation.
 * Several statistics can share one set of resamples through `computeBootstrapConfidenceIntervals`.
 */
export function computeBootstrapConfidenceInterval(
  sampleCount: number,
  statistic: (indices: Int32Array) => number,
  options: BootstrapOptions = {},
): ConfidenceInterval {
  const [interval] = computeBootstrapConfidenceIntervals(sampleCount, [statistic], options);
  return interval!;
}

export function computeBootstrapConfidenceIntervals(
  sampleCount: number,
  statistics: ReadonlyArray<(indices: Int32Array) => number>,
  options: BootstrapOptions = {},
): ConfidenceInterval[] {
  const resamples = options.resamples ?? 1000;
  const confidence = options.confidence ?? 0.95;
  if (!(confidence > 0 && confidence < 1)) {
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      `Bootstrap confidence must lie strictly between 0 and 1, got ${confidence}.`,
    );
  }
  if (!Number.isInteger(resamples) || resamples < 1) {
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      `Bootstrap resamples must be a positive integer, got ${resamples}.`,
    );
  }
  const random = createSeededRandom(options.seed ?? 0);
  const values = statistics.map(() => new Float64Array(resamples));
  const finiteCounts = statistics.map(() => 0);
  const indices = new Int32Array(sampleCount);
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < sampleCount; i++) indices[i] = random.nextInteger(sampleCount);
    statistics.forEach((statistic, s) => {
      const value = statistic(indices);
      if (Number.isFinite(value)) values[s]![finiteCounts[s]!++] = value;
    });
  }
  const alpha = (1 - confidence) / 2;
  return values.map((all, s) => {
    const sorted = all.subarray(0, finiteCounts[s]!).sort();
    return {
      low: computeSortedQuantile(sorted, alpha),
      high: computeSortedQuantile(sorted, 1 - alpha),
      confidence,
      resamples,
    };
  });
}
