import { createSeededRandom } from '@traitlens/core';

/** Uniform draws in [0, 1) from the shared seeded generator (reproducible sampling). */
export function createRandom(seed: number): () => number {
  return createSeededRandom(seed).nextUniform;
}

export interface SamplingSettings {
  temperature: number;
  topK: number | undefined;
  topP: number | undefined;
}

/** log-softmax of `logits` in float64. */
export function logSoftmax(logits: Float32Array, temperature = 1): Float64Array {
  const out = new Float64Array(logits.length);
  let maximum = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < logits.length; i++) maximum = Math.max(maximum, logits[i]! / temperature);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i]! / temperature - maximum);
  const logSum = maximum + Math.log(sum);
  for (let i = 0; i < logits.length; i++) out[i] = logits[i]! / temperature - logSum;
  return out;
}

/**
 * Picks the next token. Temperature 0 is greedy (lowest id wins ties, as torch.argmax does). Otherwise
 * top-k, then top-p (smallest set whose mass reaches p) filter the tempered distribution before sampling.
 * Returns the token and its log-probability under the distribution it was drawn from.
 */
export function sampleToken(
  logits: Float32Array,
  settings: SamplingSettings,
  random: () => number,
): { tokenId: number; logprob: number } {
  if (settings.temperature <= 0) {
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
    return { tokenId: best, logprob: logSoftmax(logits)[best]! };
  }
  const logprobs = logSoftmax(logits, settings.temperature);
  let candidates = Array.from(logprobs.keys()).sort((a, b) => logprobs[b]! - logprobs[a]! || a - b);
  if (settings.topK !== undefined && settings.topK > 0) candidates = candidates.slice(0, settings.topK);
  if (settings.topP !== undefined && settings.topP < 1) {
    let mass = 0;
    let keep = 0;
    for (const id of candidates) {
      mass += Math.exp(logprobs[id]!);
      keep++;
      if (mass >= settings.topP) break;
    }
    candidates = candidates.slice(0, keep);
  }
  let total = 0;
  for (const id of candidates) total += Math.exp(logprobs[id]!);
  let threshold = random() * total;
  for (const id of candidates) {
    threshold -= Math.exp(logprobs[id]!);
    if (threshold <= 0) return { tokenId: id, logprob: logprobs[id]! - Math.log(total) };
  }
  const last = candidates[candidates.length - 1]!;
  return { tokenId: last, logprob: logprobs[last]! - Math.log(total) };
}
