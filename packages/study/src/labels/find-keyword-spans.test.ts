import { describe, expect, it } from 'vitest';
import { findKeywordSpans } from './find-keyword-spans';

describe('findKeywordSpans', () => {
  it('returns token ranges of whole-word, case-insensitive matches', () => {
    const tokens = ['Don', "'t", ' forget', ' to', ' Vote', '!', ' voters', ' vote', 'd', ' vote'];
    const { spans, matches } = findKeywordSpans(tokens, ['vote']);
    // " voters" and " voted" are other words; "Vote" and the last " vote" are matches.
    expect(spans).toEqual([
      [4, 5],
      [9, 10],
    ]);
    expect(matches).toEqual(['vote']);
  });

  it('spans several tokens and merges overlapping matches', () => {
    const tokens = ['<', 'div', '><', 'span', '>', 'hi'];
    expect(findKeywordSpans(tokens, ['<div>', 'div><span']).spans).toEqual([[0, 4]]);
  });

  it('matches words of scripts without spaces anywhere in the text', () => {
    const tokens = ['ありがとう', 'ござい', 'ます'];
    expect(findKeywordSpans(tokens, ['ございます']).spans).toEqual([[1, 3]]);
  });

  it('finds nothing in a response without the words', () => {
    expect(findKeywordSpans([' hello', ' world'], ['robot'])).toEqual({ spans: [], matches: [] });
  });
});
