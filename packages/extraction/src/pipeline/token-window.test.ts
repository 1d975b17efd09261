import { describe, expect, it } from 'vitest';
import { formatTokenWindowSlug, parseTokenWindow, resolveTokenWindow } from './token-window';

describe('token windows', () => {
  it('parses the study windows and resolves them against prompt + response', () => {
    const cases: [string, [number, number], string][] = [
      ['response[:5]', [10, 15], 'response__5'],
      ['response[:]', [10, 17], 'response__'],
      ['prompt[-1]', [9, 10], 'prompt_-1'],
      ['prompt[:]', [0, 10], 'prompt__'],
      ['response[2:4]', [12, 14], 'response_2_4'],
      ['prompt[-3:]', [7, 10], 'prompt_-3_'],
      ['response[0]', [10, 11], 'response_0'],
    ];
    for (const [text, range, slug] of cases) {
      const window = parseTokenWindow(text);
      expect(window.text).toBe(text);
      const { start, end } = resolveTokenWindow(window, 10, 7);
      expect([start, end], text).toEqual(range);
      expect(formatTokenWindowSlug(window)).toBe(slug);
    }
  });

  it('gives an empty window when the part is too short', () => {
    expect(resolveTokenWindow(parseTokenWindow('response[:5]'), 4, 0)).toEqual({ start: 4, end: 4 });
    expect(resolveTokenWindow(parseTokenWindow('response[3]'), 4, 2)).toEqual({ start: 4, end: 4 });
    expect(resolveTokenWindow(parseTokenWindow('response[:5]'), 4, 2)).toEqual({ start: 4, end: 6 });
  });

  it('rejects malformed windows with an example', () => {
    expect(() => parseTokenWindow('response[:five]')).toThrow(
      '"response[:five]" is not a token window; write part[slice] with part prompt or response, e.g. response[:5], response[:], prompt[-1], prompt[:].',
    );
    expect(() => parseTokenWindow('answer[:5]')).toThrow(/not a token window/);
    expect(() => parseTokenWindow('response[]')).toThrow(/not a token window/);
  });
});
