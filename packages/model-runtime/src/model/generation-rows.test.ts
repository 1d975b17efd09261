import { describe, expect, it } from 'vitest';
import { GenerationRows } from './generation-rows';
import type { TextTokenizer } from './language-model';

/** Token id n is the letter 'a' + n - 1; id 0 is the end-of-sequence token (decoded as nothing). */
const tokenizer: TextTokenizer = {
  encode: (text) => Array.from(text, (char) => char.charCodeAt(0) - 96),
  decode: (ids) =>
    ids
      .filter((id) => id > 0)
      .map((id) => String.fromCharCode(96 + id))
      .join(''),
  tokenStrings: (ids) => ids.map((id) => (id > 0 ? String.fromCharCode(96 + id) : '')),
  bosTokenId: undefined,
  eosTokenIds: [0],
  vocabSize: 27,
  hasChatTemplate: false,
};

const greedy = (tokens: number[], logprobs: number[] = tokens.map(() => -1)) => ({
  nextTokens: BigInt64Array.from(tokens, BigInt),
  nextLogprobs: Float32Array.from(logprobs),
  logits: undefined,
});

describe('GenerationRows', () => {
  it('stops rows on a stop token or a stop string, feeds padding after, and cuts the text', () => {
    const streamed: string[][] = [[], []];
    const rows = new GenerationRows([[1], [2]], tokenizer, {
      stopStrings: ['cd'],
      logprobs: true,
      onToken: ({ row, text }) => streamed[row]!.push(text),
    });
    expect(rows.outputs).toBe('greedy');
    expect(rows.takeTokens(greedy([3, 0], [-0.5, -0.25]), 0, 9, 27)).toEqual([3, 0]);
    expect(rows.allFinished).toBe(false);
    expect(rows.takeTokens(greedy([4, 5]), 1, 9, 27)).toEqual([4, 9]);
    expect(rows.allFinished).toBe(true);
    const [first, second] = rows.results();
    expect(first).toMatchObject({
      responseTokenIds: [3, 4],
      responseText: '',
      finishReason: 'stop_string',
      tokenLogprobs: [-0.5, -1],
    });
    expect(second).toMatchObject({ responseTokenIds: [0], finishReason: 'stop_token', responseText: '' });
    expect(streamed).toEqual([['c', 'd'], ['']]);
  });

  it('samples from logits with temperature, reproducibly for a seed', () => {
    const logits = new Float32Array(2 * 27).fill(-50);
    logits[5] = 0;
    logits[27 + 7] = 0;
    const take = () =>
      new GenerationRows([[1], [1]], tokenizer, { temperature: 1, seed: 3 }).takeTokens(
        { nextTokens: undefined, nextLogprobs: undefined, logits },
        0,
        0,
        27,
      );
    expect(take()).toEqual([5, 7]);
    expect(take()).toEqual(take());
  });
});
