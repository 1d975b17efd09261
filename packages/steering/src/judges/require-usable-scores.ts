import { type Judge, type JudgeRequest, TraitlensError } from '@traitlens/core';

/** A judge wrapped by {@link requireUsableScores}, with its tally. */
export interface CountingJudge extends Judge {
  /** Trait and coherence judgements that returned a score, and those that returned none (null). */
  readonly tally: { scored: number; unscored: number };
}

/**
 * Wraps a judge so that one that never answers with a usable score fails loudly instead of filling
 * results with "-": when the first `probe` trait/coherence judgements all come back null (an endpoint
 * that answers with text instead of a number, no logprobs, a wrong prompt template), the next call
 * throws JUDGE_ERROR with the count, before the run is saved. Relevance is not counted (judges may
 * decline it by design). Later nulls are only counted, in `tally`.
 */
export function requireUsableScores(judge: Judge, options: { probe: number }): CountingJudge {
  const tally = { scored: 0, unscored: 0 };
  return {
    id: judge.id,
    tally,
    async score(request: JudgeRequest): Promise<number | null> {
      const score = await judge.score(request);
      if (request.kind === 'relevance') return score;
      if (score === null) tally.unscored++;
      else tally.scored++;
      if (tally.scored === 0 && tally.unscored >= options.probe) {
        throw new TraitlensError(
          'JUDGE_ERROR',
          `The judge ${judge.id} returned no usable score for any of its first ${tally.unscored} trait/coherence judgements, so every score would be "-". Check that the endpoint answers with a number 0-100 (and returns logprobs, or use text scoring), and that the judge model is the one meant; nothing was saved for the run in progress.`,
          { details: { judge: judge.id, unscored: tally.unscored } },
        );
      }
      return score;
    },
  };
}
