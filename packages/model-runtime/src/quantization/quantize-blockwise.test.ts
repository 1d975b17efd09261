import { float16BitsToNumber, numberToFloat16Bits } from '@traitlens/core/internal';
import { describe, expect, it } from 'vitest';
import { dequantizeBlockwise, quantizeBlockwise } from './quantize-blockwise';

function randomMatrix(rows: number, columns: number, seed: number): Float32Array {
  let state = seed;
  return Float32Array.from({ length: rows * columns }, () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return (state / 2 ** 32 - 0.5) * 0.4;
  });
}

describe('quantizeBlockwise', () => {
  for (const bits of [4, 8] as const) {
    for (const blockSize of [32, 128] as const) {
      it(`int${bits}, block ${blockSize}: every value within half a step of its block, zero exact, padding ignored`, () => {
        const rows = 5;
        const columns = 172; // not a multiple of the block size, as in stories260k's MLP
        const values = randomMatrix(rows, columns, bits * blockSize);
        values[3] = 0;
        const quantized = quantizeBlockwise(values, rows, columns, { bits, blockSize });
        const blocks = Math.ceil(columns / blockSize);
        expect(quantized.packed.length).toBe(rows * blocks * ((blockSize * bits) / 8));
        expect(quantized.scales.length).toBe(rows * blocks);
        expect(quantized.zeroPoints?.length).toBe(rows * Math.ceil((blocks * bits) / 8));
        const restored = dequantizeBlockwise(quantized, rows, columns, { bits, blockSize });
        for (let row = 0; row < rows; row++) {
          for (let column = 0; column < columns; column++) {
            const scale = quantized.scales[row * blocks + Math.floor(column / blockSize)]!;
            const error = Math.abs(restored[row * columns + column]! - values[row * columns + column]!);
            expect(error).toBeLessThanOrEqual(scale / 2 + 1e-7);
          }
        }
        expect(restored[3]).toBe(0);
      });
    }
  }

  it('packs two 4-bit codes per byte, low nibble first, as MatMulNBits reads them', () => {
    // One row, one block of 32: values 0..31 step 1 -> min 0, max 31, scale 31/15, zero point 0.
    const values = Float32Array.from({ length: 32 }, (_, i) => i);
    const quantized = quantizeBlockwise(values, 1, 32, { bits: 4, blockSize: 32 });
    const scale = Math.fround(31 / 15);
    expect(quantized.scales[0]).toBe(scale);
    expect(quantized.zeroPoints?.[0]).toBe(0);
    const code = (i: number) => Math.round(i / scale);
    expect(quantized.packed[0]).toBe(code(0) | (code(1) << 4));
    expect(quantized.packed[15]).toBe(code(30) | (code(31) << 4));
  });
  describe('symmetric blocks (zeroPoints: false), as GGUF q4_0 / q8_0', () => {
    const fp16 = (value: number) => float16BitsToNumber(numberToFloat16Bits(value));

    it('4 bits: d = (value of largest magnitude) / -8 as float16, codes min(15, trunc(x / d + 8.5))', () => {
      // max = -4 -> d = 0.5: -4 -> 0.5 -> 0; 3.9 -> 16.3 -> 15 (clamped); 1 -> 10.5 -> 10; 0 -> 8.
      const values = new Float32Array(32);
      values[0] = -4;
      values[1] = 3.9;
      values[2] = 1;
      const quantized = quantizeBlockwise(values, 1, 32, { bits: 4, blockSize: 32, zeroPoints: false });
      expect(quantized.zeroPoints).toBeUndefined();
      expect(quantized.scales[0]).toBe(0.5);
      expect(quantized.packed[0]).toBe(0 | (15 << 4));
      expect(quantized.packed[1]).toBe(10 | (8 << 4));
      const restored = dequantizeBlockwise(quantized, 1, 32, { bits: 4, blockSize: 32, zeroPoints: false });
      expect(Array.from(restored.subarray(0, 4))).toEqual([-4, 3.5, 1, 0]);
    });

    it('8 bits: d = max|x| / 127 as float16, codes roundf(x / d) + 128 (half away from zero)', () => {
      // max|x| = 2.54 -> float32 d = 0.02: 2.54 -> 127, -1.27 -> -63.5 -> -64, 0.03 -> 1.5 -> 2.
      const values = new Float32Array(32);
      values[0] = 2.54;
      values[1] = -1.27;
      values[2] = 0.03;
      const quantized = quantizeBlockwise(values, 1, 32, { bits: 8, blockSize: 32, zeroPoints: false });
      const d = Math.fround(Math.fround(2.54) / 127);
      expect(quantized.scales[0]).toBe(fp16(d));
      const inverse = Math.fround(1 / d);
      const code = (x: number) => {
        const scaled = Math.fround(Math.fround(x) * inverse);
        return Math.sign(scaled) * Math.round(Math.abs(scaled)) + 128;
      };
      expect(Array.from(quantized.packed.subarray(0, 4))).toEqual([code(2.54), code(-1.27), code(0.03), 128]);
      expect(quantized.packed[0]).toBe(255);
    });

    for (const bits of [4, 8] as const)
      for (const blockSize of [32, 128] as const)
        it(`int${bits}, block ${blockSize}: every value within half a step (a step at the clamped 4-bit edge) + the float16 scale rounding, zero exact`, () => {
          const rows = 5;
          const columns = 172;
          const values = randomMatrix(rows, columns, 7 * bits + blockSize);
          values[3] = 0;
          const settings = { bits, blockSize, zeroPoints: false } as const;
          const quantized = quantizeBlockwise(values, rows, columns, settings);
          const blocks = Math.ceil(columns / blockSize);
          expect(quantized.packed.length).toBe(rows * blocks * ((blockSize * bits) / 8));
          const restored = dequantizeBlockwise(quantized, rows, columns, settings);
          const steps = bits === 4 ? 8 : 127;
          for (let row = 0; row < rows; row++)
            for (let column = 0; column < columns; column++) {
              const scale = Math.abs(quantized.scales[row * blocks + Math.floor(column / blockSize)]!);
              const error = Math.abs(restored[row * columns + column]! - values[row * columns + column]!);
              // Half a step, except that 4 bits reach only 7 steps on the side opposite the largest value
              // (code 16 is clamped to 15: a whole step). Codes use the float32 d; the stored float16 d
              // differs by <= 2^-11 relative, over <= `steps` steps.
              const rounding = bits === 4 ? scale : scale / 2;
              expect(error).toBeLessThanOrEqual(rounding + steps * scale * 2 ** -11 + 1e-7);
            }
          expect(Math.abs(restored[3]!)).toBe(0);
        });
  });
});
