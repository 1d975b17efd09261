import { TraitlensError } from '@traitlens/core';
import { describe, expect, it } from 'vitest';
import { LexiconJudge } from './lexicon-judge';

const judge = new LexiconJudge();
const neutralStory =
  'Once upon a time, there was a little girl named Lily. She went to the park with her mom. They saw a big tree and a red ball.';

describe('LexiconJudge (toy)', () => {
  it('scores trait words per 100 words on a logistic curve', async () => {
    // 20 words, 2 happiness words, 1 sadness word: rate = 100 * (2 - 1) / 20 = 5
    const text = 'Lily was happy and she smiled at the dog but the dog was sad and ran to the big park';
    const score = await judge.score({ kind: 'trait', trait: 'happiness', question: 'q', response: text });
    expect(score).toBeCloseTo(100 / (1 + Math.exp(-1)), 6);
    const neutral = await judge.score({
      kind: 'trait',
      trait: 'happiness',
      question: 'q',
      response: neutralStory,
    });
    expect(neutral).toBeCloseTo(100 / (1 + Math.exp(1.5)), 6);
    const kind = await judge.score({
      kind: 'trait',
      trait: 'kindness',
      question: 'q',
      response: 'Tom shared his toys and helped his friend. He gave her a hug.',
    });
    expect(kind).toBeGreaterThan(95);
  });

  it('rates fluent stories coherent and loops, fragments and byte noise incoherent', async () => {
    const coherence = (response: string) => judge.score({ kind: 'coherence', question: 'q', response });
    expect(await coherence(neutralStory)).toBe(100);
    expect(await coherence('happy happy happy happy happy happy happy happy happy happy')).toBe(0);
    expect(
      await coherence('She was happy. She was happy. She was happy. She was happy. She was happy.'),
    ).toBeLessThan(30);
    expect(await coherence('Lily ppy zorb gle mun tref bla wug dax the ran krell plon')).toBeLessThan(20);
    expect(await coherence('Lily \u0001\u0002\u0003 ### @@@ {{}} was ~~ there')).toBe(0);
    expect(await coherence('Hi')).toBe(0);
  });

  it('abstains on relevance and names its traits when asked about another', async () => {
    expect(await judge.score({ kind: 'relevance', question: 'q', response: neutralStory })).toBeNull();
    const error = await judge
      .score({ kind: 'trait', trait: 'sycophancy', question: 'q', response: 'x' })
      .catch((caught: unknown) => caught);
    expect(TraitlensError.hasCode(error, 'INVALID_ARGUMENT')).toBe(true);
    expect((error as Error).message).toMatch(/happiness, kindness, not for trait "sycophancy"/);
  });

  it('accepts extra lexicons', async () => {
    const custom = new LexiconJudge({ lexicons: { pirates: { positive: ['arr', 'ship'], negative: [] } } });
    expect(
      await custom.score({ kind: 'trait', trait: 'pirates', question: 'q', response: 'arr arr ship' }),
    ).toBeGreaterThan(99);
  });
});
