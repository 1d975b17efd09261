import { computeAuroc } from './roc-curve';

/**
 * AUROC counted over (positive, negative) pairs from the same group only: the pair-weighted mean of each
 * group's AUROC (weight positives x negatives; groups holding one class add no pairs). It asks whether a
 * score ranks a group's positives above that group's negatives, so it cannot be raised by scores that
 * merely tell groups apart where label rates differ between groups; and out-of-fold scores of different
 * folds (models with different intercepts) are never compared with each other under grouped folds.
 * Without groups (or with a single group) it is the ordinary AUROC. NaN when no group holds both classes.
 */
export function computeWithinGroupAuroc(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
  groups?: ArrayLike<number>,
): number {
  if (!groups) return computeAuroc(scores, labels);
  const members = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const list = members.get(groups[i]!);
    if (list) list.push(i);
    else members.set(groups[i]!, [i]);
  }
  let weighted = 0;
  let pairs = 0;
  for (const rows of members.values()) {
    let positives = 0;
    for (const row of rows) positives += labels[row] === 1 ? 1 : 0;
    const negatives = rows.length - positives;
    if (positives === 0 || negatives === 0) continue;
    const auroc = computeAuroc(
      Float64Array.from(rows, (row) => scores[row]!),
      Float64Array.from(rows, (row) => labels[row]!),
    );
    weighted += auroc * positives * negatives;
    pairs += positives * negatives;
  }
  return pairs === 0 ? Number.NaN : weighted / pairs;
}
