/**
 * Right-tail empirical p-value of an observed statistic against draws from its null distribution:
 * (1 + #{null >= observed}) / (1 + draws). Never 0: with R draws the smallest attainable value is 1/(R+1).
 * NaN draws are not counted; a NaN observation gives NaN.
 */
export function computeEmpiricalPValue(observed: number, nullValues: ArrayLike<number>): number {
  if (Number.isNaN(observed)) return Number.NaN;
  let draws = 0;
  let atLeast = 0;
  for (let i = 0; i < nullValues.length; i++) {
    const value = nullValues[i]!;
    if (Number.isNaN(value)) continue;
    draws++;
    if (value >= observed) atLeast++;
  }
  return draws === 0 ? Number.NaN : (1 + atLeast) / (1 + draws);
}

/**
 * p of the best of `choices` independent draws from the same null: 1 - (1 - p)^choices (Sidak). Used when
 * the best of several methods is reported: exact for independent directions, conservative when they agree.
 */
export function adjustForBestOf(p: number, choices: number): number {
  if (Number.isNaN(p) || choices <= 1) return p;
  return Math.min(1, 1 - (1 - p) ** choices);
}
