import { TraitlensError } from '@traitlens/core';
import { describe, expect, it } from 'vitest';
import { stripPadding } from './strip-padding';

describe('stripPadding', () => {
  it('removes left and right padding by the attention mask', () => {
    expect(
      stripPadding(
        [
          [0, 0, 5, 6],
          [7, 8, 9, 0],
          [1, 2, 3, 4],
        ],
        [
          [0, 0, 1, 1],
          [1, 1, 1, 0],
          [1, 1, 1, 1],
        ],
      ),
    ).toEqual([
      [5, 6],
      [7, 8, 9],
      [1, 2, 3, 4],
    ]);
  });

  it('rejects mismatched shapes, holes, all-padding rows and non-binary masks', () => {
    expect(() => stripPadding([[1, 2]], [[1]])).toThrow(/mask has 1 entries but the row has 2/);
    expect(() => stripPadding([[1, 2, 3]], [[1, 0, 1]])).toThrow(/padding inside the row/);
    expect(() => stripPadding([[1, 2]], [[0, 0]])).toThrow(/all padding/);
    expect(() => stripPadding([[1, 2]], [[1, 2]])).toThrow(TraitlensError);
    expect(() => stripPadding([[1]], [])).toThrow(/1 rows|0 rows/);
  });
});
