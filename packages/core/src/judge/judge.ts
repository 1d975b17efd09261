/** What a judge is asked to rate. */
export type JudgeKind = 'trait' | 'coherence' | 'relevance';

export interface JudgeRequest {
  kind: JudgeKind;
  /** The trait rubric (definition.txt) for `trait` requests; ignored by the other kinds. */
  rubric?: string;
  /** Trait name, for judges that key on it (e.g. a lexicon). */
  trait?: string;
  question: string;
  response: string;
}

/**
 * Scores a response 0-100, or null when the judge cannot give a confident score (e.g. too little
 * probability mass on numbers). Implementations live in @traitlens/steering.
 */
export interface Judge {
  /** Stable id used in caches and results, e.g. `openai:gpt-4.1-mini`. */
  readonly id: string;
  score(request: JudgeRequest): Promise<number | null>;
}
