import { TraitlensError } from '@traitlens/core';
import type { ConfidenceInterval } from './bootstrap-confidence-interval';
import { computeSortedQuantile } from './quantile';
import { computeAuroc } from './roc-curve';
import { createSeededRandom } from './seeded-random';
import { computeWithinGroupAuroc } from './within-group-auroc';

/**
 * Percentile bootstrap interval of the AUROC of fixed scores. With groups it is a two-stage (cluster)
 * bootstrap: draw groups with replacement, then, inside each drawn group, its prompts with replacement,
 * and compute the within-group AUROC of the resample (each drawn copy of a group counts as its own group).
 * Both stages matter: with a handful of groups, resampling groups alone misses most of the sampling noise
 * of the prompts inside them (and undercovers), resampling prompts alone ignores that groups differ.
 * Without groups it resamples prompts for the ordinary AUROC. Units are the distinct group ids in
 * ascending order; resamples without a usable pair are dropped.
 */
export function computeGroupedAurocInterval(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
  groups: ArrayLike<number> | undefined,
  options: { resamples?: number; confidence?: number; seed?: number } = {},
): ConfidenceInterval {
  const resamples = options.resamples ?? 1000;
  const confidence = options.confidence ?? 0.95;
  if (!(confidence > 0 && confidence < 1) || !Number.isInteger(resamples) || resamples < 1)
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      `Bootstrap needs a positive whole number of resamples and a confidence in (0, 1), got ${resamples} and ${confidence}.`,
    );
  const random = createSeededRandom(options.seed ?? 0);
  const rows = Array.from({ length: labels.length }, (_, i) => i);
  const units = groups ? [...new Set(Array.from(groups))].sort((x, y) => x - y) : undefined;
  const rowsOfUnit = units ? units.map((unit) => rows.filter((row) => groups![row] === unit)) : [rows];
  const values = new Float64Array(resamples);
  let finite = 0;
  const pickedScores: number[] = [];
  const pickedLabels: number[] = [];
  const copies: number[] = [];
  for (let r = 0; r < resamples; r++) {
    pickedScores.length = 0;
    pickedLabels.length = 0;
    copies.length = 0;
    for (let draw = 0; draw < rowsOfUnit.length; draw++) {
      const members = units ? rowsOfUnit[random.nextInteger(rowsOfUnit.length)]! : rowsOfUnit[0]!;
      for (let i = 0; i < members.length; i++) {
        const row = members[random.nextInteger(members.length)]!;
        pickedScores.push(scores[row]!);
        pickedLabels.push(labels[row]!);
        copies.push(draw);
      }
    }
    const value = units
      ? computeWithinGroupAuroc(pickedScores, pickedLabels, copies)
      : computeAuroc(pickedScores, pickedLabels);
    if (Number.isFinite(value)) values[finite++] = value;
  }
  const sorted = values.subarray(0, finite).sort();
  const tail = (1 - confidence) / 2;
  return {
    low: computeSortedQuantile(sorted, tail),
    high: computeSortedQuantile(sorted, 1 - tail),
    confidence,
    resamples,
  };
}
