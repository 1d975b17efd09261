import { TraitlensError } from '@traitlens/core';
import { describe, expect, it } from 'vitest';
import { validateGenerateOptions } from './validate-generate-options';

describe('validateGenerateOptions', () => {
  it.each([
    [{ maxNewTokens: -5 }, 'maxNewTokens is -5; it must be a whole number of at least 1'],
    [{ maxNewTokens: 0 }, 'maxNewTokens is 0'],
    [{ maxNewTokens: 2.5 }, 'maxNewTokens is 2.5'],
    [{ temperature: -1 }, 'temperature is -1; it must be a finite number >= 0'],
    [{ temperature: Number.NaN }, 'temperature is NaN'],
    [{ topP: 5 }, 'topP is 5; it must be a number in (0, 1]'],
    [{ topP: 0 }, 'topP is 0'],
    [{ topK: -3 }, 'topK is -3; it must be a whole number >= 0'],
    [{ seed: 0.5 }, 'seed is 0.5'],
    [{ loraScale: [1, Number.NaN] }, 'loraScale is NaN'],
  ])('refuses %j with INVALID_ARGUMENT naming the option and its range', (options, message) => {
    let error: unknown;
    try {
      validateGenerateOptions(options);
    } catch (caught) {
      error = caught;
    }
    expect(TraitlensError.hasCode(error, 'INVALID_ARGUMENT')).toBe(true);
    expect((error as Error).message).toContain(`generate: ${message}`);
  });

  it('accepts the defaults and sensible values', () => {
    expect(() => validateGenerateOptions({})).not.toThrow();
    expect(() =>
      validateGenerateOptions({
        maxNewTokens: 1,
        temperature: 0.7,
        topK: 0,
        topP: 1,
        seed: 3,
        loraScale: [0, 1],
      }),
    ).not.toThrow();
  });
});
