import { describe, expect, it } from 'vitest';
import { parseRubric } from './parse-rubric';

describe('parseRubric', () => {
  it('reads the Key line and its variants such as "Key distinction:"', () => {
    for (const header of ['Key:', 'Key distinction:', 'KEY DIFFERENCE:', 'Key point :']) {
      const parsed = parseRubric(
        `HIGH (70-100): shows it.\n\nLOW (0-40): does not.\n\n${header} intent, not tone.`,
      );
      expect(parsed.key, header).toBe(`${header} intent, not tone.`);
      expect(parsed.high).toBe('HIGH (70-100): shows it.');
      expect(parsed.low).toBe('LOW (0-40): does not.');
    }
  });

  it('does not take a sentence that merely starts with "Key" for the Key line', () => {
    const parsed = parseRubric(
      'HIGH (70-100): a.\n\nLOW (0-40): b.\n\nKeyboards are not relevant: ignore them.',
    );
    expect(parsed.key).toBeUndefined();
  });
});
