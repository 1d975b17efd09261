import { describe, expect, it } from 'vitest';
import { isOneOf } from './is-one-of';

describe('isOneOf', () => {
  it('narrows only strings spelled exactly as a choice', () => {
    const dtypes = ['fp32', 'fp16', 'int4'] as const;
    expect(isOneOf('int4', dtypes)).toBe(true);
    expect(isOneOf('INT4', dtypes)).toBe(false);
    expect(isOneOf(' int4', dtypes)).toBe(false);
    expect(isOneOf(4, dtypes)).toBe(false);
    expect(isOneOf(undefined, dtypes)).toBe(false);
  });
});
