import { TraitlensError } from '@traitlens/core';
import { createSeededRandom, type SeededRandom, shuffleInPlace } from './seeded-random';

export interface PermutationTestOptions {
  /** Number of label permutations (default 1000). */
  permutations?: number | undefined;
  seed?: number | undefined;
  /**
   * Per sample: a group id (e.g. the bias a prompt tests). Labels are then shuffled only within each group,
   * so every permutation keeps each group's label mix: the null of "nothing beyond group identity".
   */
  groups?: ArrayLike<number> | undefined;
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

/** Positions of each group's samples, groups in ascending id order (a fixed order keeps seeds reproducible). */
function groupPositions(groups: ArrayLike<number>, length: number): Int32Array[] {
  if (groups.length !== length)
    throw new TraitlensError(
      'SHAPE_MISMATCH',
      `A grouped permutation test got ${groups.length} group ids for ${length} labels.`,
    );
  const members = new Map<number, number[]>();
  for (let i = 0; i < length; i++) {
    const list = members.get(groups[i]!);
    if (list) list.push(i);
    else members.set(groups[i]!, [i]);
  }
  return [...members.keys()].sort((x, y) => x - y).map((id) => Int32Array.from(members.get(id)!));
}

/** Fisher-Yates within each group's positions, groups in order. */
export function shuffleWithinGroups(
  values: Float64Array,
  strata: readonly Int32Array[],
  random: SeededRandom,
): void {
  for (const positions of strata) {
    for (let i = positions.length - 1; i > 0; i--) {
      const j = random.nextInteger(i + 1);
      const held = values[positions[i]!]!;
      values[positions[i]!] = values[positions[j]!]!;
      values[positions[j]!] = held;
    }
  }
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
  const strata = options.groups ? groupPositions(options.groups, labels.length) : undefined;
  let atLeast = 0;
  for (let k = 0; k < permutations; k++) {
    if (strata) shuffleWithinGroups(shuffled, strata, random);
    else shuffleInPlace(shuffled, random);
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
