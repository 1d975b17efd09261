import { TraitlensError } from '@traitlens/core';
import { createSeededRandom, shuffleInPlace } from './seeded-random';

/**
 * Assigns each sample to one of k folds so every fold holds about the same share of each label: the
 * indices of each class are shuffled with the seed and dealt round-robin, negatives first, positives
 * continuing where negatives stopped (so small classes do not all land in fold 0).
 */
export function createStratifiedFolds(labels: ArrayLike<number>, folds: number, seed = 0): Int32Array {
  if (!Number.isInteger(folds) || folds < 2)
    throw new TraitlensError('INVALID_ARGUMENT', `Cross-validation needs at least 2 folds, got ${folds}.`);
  const random = createSeededRandom(seed);
  const assignment = new Int32Array(labels.length);
  let next = 0;
  for (const label of [0, 1]) {
    const members: number[] = [];
    for (let i = 0; i < labels.length; i++) if (labels[i] === label) members.push(i);
    shuffleInPlace(members, random);
    for (const index of members) {
      assignment[index] = next;
      next = (next + 1) % folds;
    }
  }
  return assignment;
}
