import { describe, expect, it } from 'vitest';
import {
  bfloat16ArrayToFloat32,
  bfloat16BitsToNumber,
  float16BitsToNumber,
  numberToBfloat16Bits,
  numberToFloat16Bits,
} from './float16';

describe('float16 conversions', () => {
  it('matches known binary16 bit patterns (values from the IEEE-754 tables)', () => {
    const cases: Array<[number, number]> = [
      [0, 0x0000],
      [1, 0x3c00],
      [-2, 0xc000],
      [0.5, 0x3800],
      [65504, 0x7bff],
      [2 ** -24, 0x0001],
      [2 ** -14, 0x0400],
      [0.333251953125, 0x3555],
      [Number.POSITIVE_INFINITY, 0x7c00],
    ];
    for (const [value, bits] of cases) {
      expect(numberToFloat16Bits(value)).toBe(bits);
      expect(float16BitsToNumber(bits)).toBe(value);
    }
    expect(numberToFloat16Bits(1e6)).toBe(0x7c00);
    expect(Number.isNaN(float16BitsToNumber(numberToFloat16Bits(Number.NaN)))).toBe(true);
  });

  it('rounds to nearest even', () => {
    // 1 + 2^-11 lies exactly between 1 and the next half (1 + 2^-10): ties go to the even mantissa (1).
    expect(numberToFloat16Bits(1 + 2 ** -11)).toBe(0x3c00);
    // 1 + 3*2^-11 lies between 1+2^-10 (odd) and 1+2^-9 (even): goes up.
    expect(numberToFloat16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    // Round trip through every finite half value is exact.
    for (let bits = 0; bits < 0x7c00; bits += 7)
      expect(numberToFloat16Bits(float16BitsToNumber(bits))).toBe(bits);
  });

  it('converts bfloat16 both ways', () => {
    expect(bfloat16BitsToNumber(0x3f80)).toBe(1);
    expect(bfloat16BitsToNumber(0xc040)).toBe(-3);
    expect(numberToBfloat16Bits(1)).toBe(0x3f80);
    expect(numberToBfloat16Bits(1 + 2 ** -8)).toBe(0x3f80); // tie -> even
    expect(numberToBfloat16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(Array.from(bfloat16ArrayToFloat32(new Uint16Array([0x3f80, 0x4000])))).toEqual([1, 2]);
  });
});
