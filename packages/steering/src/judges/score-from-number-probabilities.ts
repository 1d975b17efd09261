/**
 * The study's judge score: the probability-weighted mean of the integers 0-100 the judge might answer,
 * renormalised by the probability mass on integers. When less than `massFloor` of the mass is on
 * integers the judge did not really answer with a number, so the score is null.
 */
export function scoreFromNumberProbabilities(
  probabilities: ReadonlyMap<number, number>,
  massFloor = 0.25,
): number | null {
  let mass = 0;
  let weighted = 0;
  for (const [value, probability] of probabilities) {
    mass += probability;
    weighted += value * probability;
  }
  if (mass < massFloor || mass === 0) return null;
  return weighted / mass;
}

/** `0`-`100` without leading zeros; what a judge asked for an integer score may answer. */
export function parseScoreToken(token: string): number | undefined {
  const text = token.trim();
  if (!/^(0|[1-9]\d{0,2})$/.test(text)) return undefined;
  const value = Number(text);
  return value <= 100 ? value : undefined;
}

/**
 * Probability per integer from an endpoint's top logprobs of the first answer token. Tokens that
 * decode to the same integer (`"85"`, `" 85"`) add up.
 */
export function numberProbabilitiesFromTopLogprobs(
  topLogprobs: readonly { token: string; logprob: number }[],
): Map<number, number> {
  const probabilities = new Map<number, number>();
  for (const { token, logprob } of topLogprobs) {
    const value = parseScoreToken(token);
    if (value === undefined || !Number.isFinite(logprob)) continue;
    probabilities.set(value, (probabilities.get(value) ?? 0) + Math.exp(logprob));
  }
  return probabilities;
}

/** For endpoints without logprobs: the first integer 0-100 in the answer text, or null. */
export function parseScoreFromText(text: string): number | null {
  for (const match of text.matchAll(/\d+(?:\.\d+)?/g)) {
    const value = Number(match[0]);
    if (value >= 0 && value <= 100) return value;
  }
  return null;
}
