import { describe, expect, it } from 'vitest';
import { parseByteSize } from './parse-byte-size';

describe('parseByteSize', () => {
  it('reads decimal and binary units', () => {
    expect(parseByteSize('80GB')).toBe(80e9);
    expect(parseByteSize('80 GiB')).toBe(80 * 2 ** 30);
    expect(parseByteSize('81559MiB')).toBe(81559 * 2 ** 20);
    expect(parseByteSize('1.5tb')).toBe(1.5e12);
  });

  it('refuses a bare number and unknown units', () => {
    expect(() => parseByteSize('80')).toThrow(/with a unit/);
    expect(() => parseByteSize('80 gigs')).toThrow(/80GB/);
  });
});
