import { type ConfidenceInterval, computeBootstrapConfidenceInterval } from './bootstrap-confidence-interval';
import { computeAuroc } from './roc-curve';

/**
 * Percentile bootstrap interval of the AUROC of fixed scores, resampling whole groups with replacement
 * (a cluster bootstrap: prompts of one group are not independent evidence) or, without groups, single
 * prompts. Units are the distinct group ids in ascending order; resamples holding one class are dropped.
 */
export function computeGroupedAurocInterval(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
  groups: ArrayLike<number> | undefined,
  options: { resamples?: number; confidence?: number; seed?: number } = {},
): ConfidenceInterval {
  const rows = Array.from({ length: labels.length }, (_, i) => i);
  const units = groups ? [...new Set(Array.from(groups))].sort((x, y) => x - y) : undefined;
  const rowsOfUnit = units
    ? units.map((unit) => rows.filter((row) => groups![row] === unit))
    : rows.map((row) => [row]);
  return computeBootstrapConfidenceInterval(
    rowsOfUnit.length,
    (indices) => {
      const picked: number[] = [];
      for (const index of indices) for (const row of rowsOfUnit[index]!) picked.push(row);
      return computeAuroc(
        Float64Array.from(picked, (row) => scores[row]!),
        Float64Array.from(picked, (row) => labels[row]!),
      );
    },
    options,
  );
}
