import { type Judge, type JudgeRequest, TraitlensError } from '@traitlens/core';
import { storyVocabulary, type TraitLexicon, tinyStoriesLexicons } from './tinystories-lexicons';

export interface LexiconJudgeOptions {
  /** Word lists per trait name; merged over the built-in tinystories lists. */
  lexicons?: Record<string, TraitLexicon>;
  /** Known words for the gibberish check; default: common children's-story words. */
  vocabulary?: readonly string[];
}

/**
 * A TOY judge for offline demos and tests on tiny story models: it counts words, it does not read.
 *
 * - trait: rate = 100 * (positive words - negative words) / words; score = 100 / (1 + e^-(rate-3)/2),
 *   so neutral text scores ~18, 5 net trait words per 100 score ~73, 10 per 100 score ~97.
 * - coherence: 100 * repetition * vocabulary * characters, each factor in [0, 1]:
 *   repetition = distinct word trigrams / trigrams, mapped 0.4 -> 0 and 0.9 -> 1 (loops score low);
 *   vocabulary = share of the letters that belong to known story words or lexicon words, 0.5 -> 0 and
 *   0.85 -> 1 (broken word fragments and long letter runs score low); characters = share of letters, spaces and ordinary punctuation,
 *   0.8 -> 0 and 0.95 -> 1 (byte noise scores low). Fewer than 3 words score 0.
 * - relevance: null (it cannot tell), so it never caps coherence.
 *
 * It rewards word stuffing and ignores negation ("not happy"); use an LLM judge for real studies.
 */
export class LexiconJudge implements Judge {
  readonly id = 'lexicon';
  private readonly lexicons: Map<string, { positive: Set<string>; negative: Set<string> }>;
  private readonly vocabulary: Set<string>;

  constructor(options: LexiconJudgeOptions = {}) {
    const all = { ...tinyStoriesLexicons, ...options.lexicons } as Record<string, TraitLexicon>;
    this.lexicons = new Map(
      Object.entries(all).map(([trait, lexicon]) => [
        trait,
        { positive: new Set(lexicon.positive.map(lower)), negative: new Set(lexicon.negative.map(lower)) },
      ]),
    );
    this.vocabulary = new Set((options.vocabulary ?? storyVocabulary).map(lower));
    for (const lexicon of this.lexicons.values()) {
      for (const word of [...lexicon.positive, ...lexicon.negative]) this.vocabulary.add(word);
    }
  }

  async score(request: JudgeRequest): Promise<number | null> {
    switch (request.kind) {
      case 'trait':
        return this.scoreTrait(request);
      case 'coherence':
        return this.scoreCoherence(request.response);
      case 'relevance':
        return null;
    }
  }

  private scoreTrait(request: JudgeRequest): number {
    const lexicon = request.trait === undefined ? undefined : this.lexicons.get(request.trait);
    if (!lexicon) {
      throw new TraitlensError(
        'INVALID_ARGUMENT',
        `The lexicon judge has word lists for ${[...this.lexicons.keys()].join(', ')}, not for trait "${request.trait ?? '(none given)'}". Pass lexicons for it, or use an LLM judge (--judge openai:<model> or local:<model>).`,
        { details: { trait: request.trait } },
      );
    }
    const wordList = wordsOf(request.response);
    if (wordList.length === 0) return 0;
    let net = 0;
    for (const word of wordList) {
      if (lexicon.positive.has(word)) net++;
      else if (lexicon.negative.has(word)) net--;
    }
    const rate = (100 * net) / wordList.length;
    return 100 / (1 + Math.exp(-(rate - 3) / 2));
  }

  private scoreCoherence(text: string): number {
    const wordList = wordsOf(text);
    if (wordList.length < 3) return 0;
    const trigrams = wordList
      .slice(2)
      .map((word, index) => `${wordList[index]} ${wordList[index + 1]} ${word}`);
    const distinctShare = new Set(trigrams).size / trigrams.length;
    // Weighted by length, so one long run of letters ("EEEEEEEE...") weighs as much as the words it replaced.
    const letters = wordList.reduce((sum, word) => sum + word.length, 0);
    const knownShare =
      wordList.filter((word) => this.vocabulary.has(word)).reduce((sum, word) => sum + word.length, 0) /
      letters;
    const visible = text.replace(/\s/g, '');
    const ordinary = visible.replace(/[^A-Za-z.,!?'"\-:;()]/g, '').length;
    const ordinaryShare = visible.length === 0 ? 0 : ordinary / visible.length;
    return 100 * ramp(distinctShare, 0.4, 0.9) * ramp(knownShare, 0.5, 0.85) * ramp(ordinaryShare, 0.8, 0.95);
  }
}

function lower(word: string): string {
  return word.toLowerCase();
}

function wordsOf(text: string): string[] {
  return [...text.toLowerCase().matchAll(/[a-z]+(?:'[a-z]+)?/g)].map((match) => match[0]);
}

/** 0 at or below `low`, 1 at or above `high`, linear between. */
function ramp(value: number, low: number, high: number): number {
  return Math.min(1, Math.max(0, (value - low) / (high - low)));
}
