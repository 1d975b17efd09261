import { describe, expect, it } from 'vitest';
import { bfloat16ArrayToFloat32, float16BitsToNumber } from './float16';
import {
  instantiateSimdDotKernels,
  type SimdDotKernelExports,
  simdDotKernelsSupported,
} from './simd-dot-kernels';

/** Byte offset of element (r, k) of a quad-layout matrix at `base` with padded width `stride`. */
function quadOffset(base: number, stride: number, r: number, k: number): number {
  return base + (r >> 2) * stride * 32 + (k >> 1) * 64 + (r & 3) * 16 + (k & 1) * 8;
}

function readQuad(kernels: SimdDotKernelExports, base: number, stride: number, r: number, k: number): number {
  return new Float64Array(kernels.memory.buffer, quadOffset(base, stride, r, k), 1)[0]!;
}

function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

/** Loads `rows` x `width` float32 values as quad layout at `base` (zero padded), returns the padded sizes. */
function load(
  kernels: SimdDotKernelExports,
  values: Float32Array,
  rows: number,
  width: number,
  base: number,
): { rows4: number; stride: number } {
  const stride = (width + 3) & ~3;
  const rows4 = (rows + 3) & ~3;
  const staging = new Float32Array(kernels.memory.buffer, 0, rows4 * stride);
  staging.fill(0);
  for (let r = 0; r < rows; r++) staging.set(values.subarray(r * width, (r + 1) * width), r * stride);
  kernels.widenF32(0, rows4, stride, base);
  return { rows4, stride };
}

describe('SIMD dot kernels', () => {
  it('are supported by this engine', () => {
    expect(simdDotKernelsSupported()).toBe(true);
  });

  it('widen every f16 value exactly (subnormals, infinities, NaN, signed zero)', () => {
    const kernels = instantiateSimdDotKernels();
    kernels.memory.grow(80);
    const stride = 16384;
    const bits = new Uint16Array(kernels.memory.buffer, 0, 65536);
    for (let i = 0; i < 65536; i++) bits[i] = i;
    const base = 1 << 17;
    kernels.widenF16(0, 4, stride, base);
    let mismatches = 0;
    for (let i = 0; i < 65536; i++) {
      const got = readQuad(kernels, base, stride, Math.floor(i / stride), i % stride);
      if (
        !Object.is(got, float16BitsToNumber(i)) &&
        !(Number.isNaN(got) && Number.isNaN(float16BitsToNumber(i)))
      )
        mismatches++;
    }
    expect(mismatches).toBe(0);
  });

  it('widen bf16 and float32 exactly', () => {
    const kernels = instantiateSimdDotKernels();
    kernels.memory.grow(80);
    const next = seeded(7);
    const stride = 8;
    const bits = Uint16Array.from({ length: 4 * stride }, () => Math.floor(next() * 65536));
    new Uint16Array(kernels.memory.buffer, 0, bits.length).set(bits);
    kernels.widenBF16(0, 4, stride, 4096);
    const expected = bfloat16ArrayToFloat32(bits, new Float32Array(bits.length));
    for (let i = 0; i < bits.length; i++) {
      const got = readQuad(kernels, 4096, stride, Math.floor(i / stride), i % stride);
      expect(Number.isNaN(expected[i]!) ? Number.isNaN(got) : Object.is(got, expected[i]!)).toBe(true);
    }
    const floats = Float32Array.from({ length: 4 * stride }, () => (next() - 0.5) * 1e6);
    floats[3] = 1e-45;
    floats[4] = -0;
    floats[5] = Number.POSITIVE_INFINITY;
    new Float32Array(kernels.memory.buffer, 0, floats.length).set(floats);
    kernels.widenF32(0, 4, stride, 4096);
    for (let i = 0; i < floats.length; i++)
      expect(Object.is(readQuad(kernels, 4096, stride, Math.floor(i / stride), i % stride), floats[i]!)).toBe(
        true,
      );
  });

  // Odd widths and row counts exercise the zero padding of columns (width % 4) and rows (rows % 4), and
  // k ranges split at arbitrary even points exercise the accumulation across calls.
  it.each([
    { aRows: 1, bRows: 1, width: 1 },
    { aRows: 7, bRows: 5, width: 13 },
    { aRows: 10, bRows: 21, width: 130 },
    { aRows: 33, bRows: 9, width: 257 },
  ])(
    'dots match a float64 reference ($aRows x $bRows, width $width) within 1e-12 relative',
    ({ aRows, bRows, width }) => {
      const kernels = instantiateSimdDotKernels();
      kernels.memory.grow(64);
      const next = seeded(aRows * 1000 + width);
      const a = Float32Array.from({ length: aRows * width }, () => next() * 2 - 1 + 0.3);
      const b = Float32Array.from({ length: bRows * width }, () => next() * 2 - 1);
      const aAt = 1 << 20;
      const bAt = 2 << 20;
      const out = 3 << 20;
      const { rows4: aRows4, stride } = load(kernels, a, aRows, width, aAt);
      const { rows4: bRows4 } = load(kernels, b, bRows, width, bAt);
      new Float64Array(kernels.memory.buffer, out, aRows4 * bRows4).fill(0);
      const split = Math.min(stride, 2 * Math.floor(stride / 6) + 2);
      kernels.dots(aAt, aRows4, bAt, bRows4, stride, 0, split, out, bRows4, 0);
      if (split < stride) kernels.dots(aAt, aRows4, bAt, bRows4, stride, split, stride, out, bRows4, 0);
      const result = new Float64Array(kernels.memory.buffer, out, aRows4 * bRows4);
      for (let i = 0; i < aRows; i++) {
        for (let j = 0; j < bRows; j++) {
          let sum = 0;
          let magnitude = 0;
          for (let k = 0; k < width; k++) {
            sum += a[i * width + k]! * b[j * width + k]!;
            magnitude += Math.abs(a[i * width + k]! * b[j * width + k]!);
          }
          expect(Math.abs(result[i * bRows4 + j]! - sum)).toBeLessThanOrEqual(1e-12 * magnitude + 1e-300);
        }
        for (let j = bRows; j < bRows4; j++) expect(result[i * bRows4 + j]).toBe(0);
      }
    },
  );

  it('dots with lower = 1 fill the lower triangle of X X^T (row counts not a multiple of 4)', () => {
    const kernels = instantiateSimdDotKernels();
    kernels.memory.grow(64);
    const rows = 11;
    const width = 37;
    const next = seeded(11);
    const x = Float32Array.from({ length: rows * width }, () => next() * 4 - 2);
    const at = 1 << 20;
    const out = 2 << 20;
    const { rows4, stride } = load(kernels, x, rows, width, at);
    new Float64Array(kernels.memory.buffer, out, rows4 * rows4).fill(0);
    kernels.dots(at, rows4, at, rows4, stride, 0, stride, out, rows4, 1);
    const result = new Float64Array(kernels.memory.buffer, out, rows4 * rows4);
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j <= i; j++) {
        let sum = 0;
        for (let k = 0; k < width; k++) sum += x[i * width + k]! * x[j * width + k]!;
        expect(result[i * rows4 + j]).toBeCloseTo(sum, 12);
      }
    }
  });

  it('rowStats gives squared norms and the row sums in row order (bit-identical to a plain loop)', () => {
    const kernels = instantiateSimdDotKernels();
    kernels.memory.grow(64);
    const rows = 9;
    const width = 23;
    const next = seeded(3);
    const x = Float32Array.from({ length: rows * width }, () => (next() - 0.5) * 100);
    const at = 1 << 20;
    const norms = 2 << 20;
    const sums = 3 << 20;
    const weights = 4 << 20;
    const { rows4, stride } = load(kernels, x, rows, width, at);
    new Float64Array(kernels.memory.buffer, sums, stride).fill(0);
    kernels.rowStats(at, rows4, stride, norms, sums);
    const squares = new Float64Array(kernels.memory.buffer, norms, rows4);
    const total = new Float64Array(kernels.memory.buffer, sums, stride);
    for (let r = 0; r < rows; r++) {
      let sum = 0;
      for (let k = 0; k < width; k++) sum += x[r * width + k]! ** 2;
      expect(squares[r]).toBeCloseTo(sum, 9);
    }
    for (let k = 0; k < width; k++) {
      let sum = 0;
      for (let r = 0; r < rows; r++) sum += x[r * width + k]!;
      expect(total[k]).toBe(sum);
    }
    const w = new Float64Array(kernels.memory.buffer, weights, rows4);
    for (let r = 0; r < rows4; r++) w[r] = r >= 2 && r < 7 ? 1 / (r + 3) : 0;
    total.fill(0);
    kernels.weightedSums(at, 2, 7, stride, weights, sums);
    for (let k = 0; k < width; k++) {
      let sum = 0;
      for (let r = 2; r < 7; r++) sum += x[r * width + k]! * (1 / (r + 3));
      expect(total[k]).toBe(sum);
    }
  });
});
