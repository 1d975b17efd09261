import { TraitlensError } from '@traitlens/core';
import { createSeededRandom, shuffleInPlace } from './seeded-random';

export interface PermutationTestOptions {
  /** Number of label permutations (default 1000). */
  permutations?: number;
  seed?: number;
}

export interface PermutationTestResult {
  observed: number;
  /** (1 + #{permuted >= observed}) / (1 + permutations): never 0, as a finite test cannot prove that. */
  pValue: number;
  permutations: number;
  nullMean: number;
  /** 95th percentile of the permuted statistics: what chance alone reaches. */
  null95: number;
}

/**
 * One-sided permutation test: how often a statistic computed on shuffled labels reaches the observed one.
 * `statistic` receives the labels (original first, then each permutation) and must not keep them.
 */
export function runPermutationTest(
  labels: ArrayLike<number>,
  statistic: (labels: Float64Array) => number,
  options: PermutationTestOptions = {},
): PermutationTestResult {
  const permutations = options.permutations ?? 1000;
  if (!Number.isInteger(permutations) || permutations < 1) {
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      `Permutations must be a positive integer, got ${permutations}.`,
    );
  }
  const random = createSeededRandom(options.seed ?? 0);
  const shuffled = Float64Array.from(labels);
  const observed = statistic(Float64Array.from(labels));
  const nullValues = new Float64Array(permutations);
  let atLeast = 0;
  for (let k = 0; k < permutations; k++) {
    shuffleInPlace(shuffled, random);
    const value = statistic(shuffled);
    nullValues[k] = value;
    if (value >= observed) atLeast++;
  }
  nullValues.sort();
  let sum = 0;
  for (const value of nullValues) sum += value;
  return {
    observed,
    pValue: (1 + atLeast) / (1 + permutations),
    permutations,
    nullMean: sum / permutations,
    null95: nullValues[Math.min(permutations - 1, Math.ceil(0.95 * permutations) - 1)]!,
  };
}
