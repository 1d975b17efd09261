/**
 * Area under the ROC curve for scores where positives should be higher: P(pos > neg) + P(pos = neg)/2,
 * the Mann-Whitney statistic, computed from average ranks in O(n log n); equal to sklearn's
 * `roc_auc_score`. NaN when a class is empty. The one AUROC in traitlens (analysis' `computeAuroc` over
 * scores and 0/1 labels calls it).
 */
export function computeAurocOfClasses(positive: ArrayLike<number>, negative: ArrayLike<number>): number {
  const positiveCount = positive.length;
  const negativeCount = negative.length;
  if (positiveCount === 0 || negativeCount === 0) return Number.NaN;
  const scored: { value: number; positive: boolean }[] = [];
  for (let i = 0; i < positiveCount; i++) scored.push({ value: positive[i]!, positive: true });
  for (let i = 0; i < negativeCount; i++) scored.push({ value: negative[i]!, positive: false });
  scored.sort((a, b) => a.value - b.value);
  let positiveRankSum = 0;
  let start = 0;
  while (start < scored.length) {
    let end = start;
    while (end + 1 < scored.length && scored[end + 1]!.value === scored[start]!.value) end++;
    // Tied values share the average of ranks start+1 .. end+1.
    const averageRank = (start + end + 2) / 2;
    for (let i = start; i <= end; i++) if (scored[i]!.positive) positiveRankSum += averageRank;
    start = end + 1;
  }
  return (positiveRankSum - (positiveCount * (positiveCount + 1)) / 2) / (positiveCount * negativeCount);
}
