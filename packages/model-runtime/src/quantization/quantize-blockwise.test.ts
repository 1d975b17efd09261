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
        expect(quantized.zeroPoints.length).toBe(rows * Math.ceil((blocks * bits) / 8));
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
    expect(quantized.zeroPoints[0]).toBe(0);
    const code = (i: number) => Math.round(i / scale);
    expect(quantized.packed[0]).toBe(code(0) | (code(1) << 4));
    expect(quantized.packed[15]).toBe(code(30) | (code(31) << 4));
  });
});
