import { describe, expect, it } from 'vitest';
import { computeAurocOfClasses } from './auroc';
import { computeStudentTCdf, computeStudentTTwoSidedPValue } from './student-t';

describe('computeAurocOfClasses', () => {
  it('equals the pairwise Mann-Whitney probability (ties one half), counted by brute force', () => {
    const positive = [0.9, 0.4, 0.4, 2, -1, 0.4];
    const negative = [0.4, 0.1, 3, -2, 0.4];
    let wins = 0;
    for (const p of positive) for (const n of negative) wins += p > n ? 1 : p === n ? 0.5 : 0;
    expect(computeAurocOfClasses(positive, negative)).toBeCloseTo(
      wins / (positive.length * negative.length),
      14,
    );
    expect(computeAurocOfClasses([], negative)).toBeNaN();
  });
});

describe('Student t', () => {
  // Closed forms as independent references: df = 1 is Cauchy, df = 2 has F(t) = 1/2 + t / (2 sqrt(2 + t^2)).
  it('matches the closed forms for 1 and 2 degrees of freedom to 1e-12', () => {
    for (const t of [-40, -3.5, -1, -0.2, 0, 0.7, 2, 12]) {
      expect(computeStudentTCdf(t, 1)).toBeCloseTo(0.5 + Math.atan(t) / Math.PI, 12);
      expect(computeStudentTCdf(t, 2)).toBeCloseTo(0.5 + t / (2 * Math.sqrt(2 + t * t)), 12);
      expect(computeStudentTTwoSidedPValue(t, 1)).toBeCloseTo(1 - (2 * Math.atan(Math.abs(t))) / Math.PI, 12);
    }
  });

  it('handles infinite, NaN and degenerate inputs', () => {
    expect(computeStudentTTwoSidedPValue(Number.POSITIVE_INFINITY, 5)).toBe(0);
    expect(computeStudentTTwoSidedPValue(Number.NaN, 5)).toBeNaN();
    expect(computeStudentTTwoSidedPValue(1, 0)).toBeNaN();
    expect(computeStudentTCdf(Number.NEGATIVE_INFINITY, 3)).toBe(0);
    expect(computeStudentTCdf(Number.POSITIVE_INFINITY, 3)).toBe(1);
  });
});
