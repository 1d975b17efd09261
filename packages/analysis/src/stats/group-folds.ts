import { TraitlensError } from '@traitlens/core';

/**
 * Assigns samples to folds by group so no group is split across folds. With as many folds as groups (or
 * more) it is leave-one-group-out (fold = rank of the group id); otherwise sklearn's `GroupKFold`: groups
 * sorted by size, largest first, each given to the fold with the fewest samples so far. Returns the fold
 * per sample and the number of folds.
 */
export function createGroupFolds(
  groups: ArrayLike<number>,
  folds: number,
): { assignment: Int32Array; folds: number } {
  const sizes = new Map<number, number>();
  for (let i = 0; i < groups.length; i++) sizes.set(groups[i]!, (sizes.get(groups[i]!) ?? 0) + 1);
  const ids = [...sizes.keys()].sort((x, y) => x - y);
  if (ids.length < 2)
    throw new TraitlensError(
      'INSUFFICIENT_DATA',
      `Grouped cross-validation needs at least 2 groups, got ${ids.length}.`,
    );
  const assignment = new Int32Array(groups.length);
  const foldOf = new Map<number, number>();
  if (folds >= ids.length) {
    ids.forEach((id, position) => {
      foldOf.set(id, position);
    });
  } else {
    // Stable sort by size, descending (ties keep the larger id first, like numpy's argsort()[::-1] on ids sorted ascending).
    const bySize = ids
      .map((id, position) => ({ id, position, size: sizes.get(id)! }))
      .sort((x, y) => y.size - x.size || y.position - x.position);
    const load = new Float64Array(folds);
    for (const { id, size } of bySize) {
      let lightest = 0;
      for (let f = 1; f < folds; f++) if (load[f]! < load[lightest]!) lightest = f;
      load[lightest]! += size;
      foldOf.set(id, lightest);
    }
  }
  for (let i = 0; i < groups.length; i++) assignment[i] = foldOf.get(groups[i]!)!;
  return { assignment, folds: Math.min(folds, ids.length) };
}

/**
 * Folds that never split a group and keep each fold's share of both classes near 1/k (groups whose labels
 * are all one class would otherwise leave folds without a class, and pooled out-of-fold scores would be
 * biased against the held-out class). Groups are placed largest first (ties: smaller id first), each in the
 * fold where the squared deviation of the per-class shares from 1/k grows least (ties: the lower fold).
 */
export function createStratifiedGroupFolds(
  groups: ArrayLike<number>,
  labels: ArrayLike<number>,
  folds: number,
): Int32Array {
  const counts = new Map<number, [number, number]>();
  const totals: [number, number] = [0, 0];
  for (let i = 0; i < groups.length; i++) {
    const label = labels[i] === 1 ? 1 : 0;
    let entry = counts.get(groups[i]!);
    if (!entry) {
      entry = [0, 0];
      counts.set(groups[i]!, entry);
    }
    entry[label]++;
    totals[label]++;
  }
  const order = [...counts.entries()].sort((x, y) => y[1][0] + y[1][1] - (x[1][0] + x[1][1]) || x[0] - y[0]);
  const load = Array.from({ length: folds }, () => [0, 0] as [number, number]);
  const foldOf = new Map<number, number>();
  const share = (count: number, label: 0 | 1) => (totals[label] === 0 ? 0 : count / totals[label]);
  for (const [id, [negatives, positives]] of order) {
    let bestFold = 0;
    let bestCost = Number.POSITIVE_INFINITY;
    for (let f = 0; f < folds; f++) {
      let cost = 0;
      for (let g = 0; g < folds; g++) {
        const extra = g === f ? 1 : 0;
        cost += (share(load[g]![0] + extra * negatives, 0) - 1 / folds) ** 2;
        cost += (share(load[g]![1] + extra * positives, 1) - 1 / folds) ** 2;
      }
      if (cost < bestCost - 1e-12) {
        bestCost = cost;
        bestFold = f;
      }
    }
    load[bestFold]![0] += negatives;
    load[bestFold]![1] += positives;
    foldOf.set(id, bestFold);
  }
  return Int32Array.from(Array.from(groups), (group) => foldOf.get(group)!);
}

export type GroupedValidationScheme = 'leave-one-group-out' | 'stratified-group-k-fold';

/**
 * The grouped folds detection uses: leave-one-group-out when every group holds both classes and there are
 * at most `maximumLeaveOneOutGroups` groups; otherwise stratified group k-fold with k at most the number of
 * groups holding each class (so every training fold can see both classes), and at least 2.
 */
export function chooseGroupedFolds(
  groups: ArrayLike<number>,
  labels: ArrayLike<number>,
  options: { folds: number; maximumLeaveOneOutGroups?: number | undefined },
): { assignment: Int32Array; folds: number; scheme: GroupedValidationScheme } {
  const withClass: [Set<number>, Set<number>] = [new Set(), new Set()];
  const all = new Set<number>();
  for (let i = 0; i < groups.length; i++) {
    withClass[labels[i] === 1 ? 1 : 0].add(groups[i]!);
    all.add(groups[i]!);
  }
  const mixed = [...all].every((group) => withClass[0].has(group) && withClass[1].has(group));
  if (mixed && all.size >= 2 && all.size <= (options.maximumLeaveOneOutGroups ?? 10)) {
    const { assignment, folds } = createGroupFolds(groups, all.size);
    return { assignment, folds, scheme: 'leave-one-group-out' };
  }
  const folds = Math.max(2, Math.min(options.folds, all.size, withClass[0].size, withClass[1].size));
  return {
    assignment: createStratifiedGroupFolds(groups, labels, folds),
    folds,
    scheme: 'stratified-group-k-fold',
  };
}
