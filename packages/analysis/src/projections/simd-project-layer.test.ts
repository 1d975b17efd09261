import {
  instantiateSimdDotKernels,
  numberToBfloat16Bits,
  numberToFloat16Bits,
} from '@traitlens/core/internal';
import { describe, expect, it } from 'vitest';
import { createSeededRandom } from '../stats/seeded-random';
import { projectRows } from './project-token-activations';
import { createRandomDirections, projectRowSummary } from './random-directions';
import { simdProjectLayer } from './simd-project-layer';

/** Encodes float values as the bytes of a tensor of `dtype`, and returns the values the bytes hold. */
function encode(values: number[], dtype: 'F16' | 'BF16' | 'F32'): { bytes: Uint8Array; held: Float64Array } {
  if (dtype === 'F32') {
    const floats = Float32Array.from(values);
    return { bytes: new Uint8Array(floats.buffer), held: Float64Array.from(floats) };
  }
  const bits = Uint16Array.from(values, (value) =>
    dtype === 'F16' ? numberToFloat16Bits(value) : numberToBfloat16Bits(value),
  );
  const held = Float64Array.from(bits, (b) =>
    dtype === 'F16' ? decodeHalf(b) : new Float32Array(new Uint32Array([b << 16]).buffer)[0]!,
  );
  return { bytes: new Uint8Array(bits.buffer), held };
}

function decodeHalf(bits: number): number {
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  const sign = bits & 0x8000 ? -1 : 1;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 31) return mantissa ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

describe('simdProjectLayer', () => {
  // Token counts, widths and vector counts off the kernel's multiples of 4 exercise the zero padding.
  it.each([
    { dtype: 'F16', tokens: 1, width: 5, vectors: 1 },
    { dtype: 'F16', tokens: 13, width: 67, vectors: 21 },
    { dtype: 'BF16', tokens: 6, width: 130, vectors: 3 },
    { dtype: 'F32', tokens: 9, width: 33, vectors: 8 },
  ] as const)(
    'matches float64 dot products, norms and sums ($dtype, $tokens x $width, $vectors vectors) to 1e-12 relative',
    ({ dtype, tokens, width, vectors }) => {
      const random = createSeededRandom(tokens * 100 + width);
      const { bytes, held } = encode(
        Array.from({ length: tokens * width }, () => random.nextNormal() * 3 + 0.5),
        dtype,
      );
      const unitRows = Math.ceil(vectors / 8) * 8;
      const layers = [0, 1].map(() => {
        const unit = new Float32Array(unitRows * width);
        for (let i = 0; i < vectors * width; i++) unit[i] = random.nextNormal() / Math.sqrt(width);
        return unit;
      });
      const state = { kernels: instantiateSimdDotKernels() };
      const directions = createRandomDirections({ count: 6, hiddenSize: width, layers: 2, seed: 3 });
      for (const position of [1, 0, 1]) {
        const dots = new Float32Array(2 * vectors * tokens);
        const norms = new Float32Array(2 * tokens);
        const rowSum = new Float64Array(width);
        const randomDots = new Float32Array(2 * directions.count);
        const start = Math.floor(tokens / 3);
        simdProjectLayer(state, {
          bank: 'bank',
          unitVectors: layers,
          position,
          dtype,
          bytes,
          tokenCount: tokens,
          width,
          vectorCount: vectors,
          dots,
          dotsOffset: position * vectors * tokens,
          norms,
          normsOffset: position * tokens,
          rowSum,
          random: {
            directions,
            unitVectors: directions.unitVectors,
            count: directions.count,
            permutation: directions.layerMaps[position]!.permutation,
            signs: directions.layerMaps[position]!.signs,
            start,
            end: tokens,
            normalise: true,
            out: randomDots,
            rows: new Float32Array(2 * width),
            flush: true,
          },
        });
        const unit = layers[position]!;
        for (let t = 0; t < tokens; t++) {
          let squares = 0;
          for (let j = 0; j < width; j++) squares += held[t * width + j]! ** 2;
          expect(norms[position * tokens + t]).toBe(Math.fround(Math.sqrt(squares)));
          for (let k = 0; k < vectors; k++) {
            let dot = 0;
            let magnitude = 0;
            for (let j = 0; j < width; j++) {
              dot += held[t * width + j]! * unit[k * width + j]!;
              magnitude += Math.abs(held[t * width + j]! * unit[k * width + j]!);
            }
            const got = dots[position * vectors * tokens + k * tokens + t]!;
            // float64 sums, then one float32 rounding of the result.
            expect(Math.abs(got - dot)).toBeLessThanOrEqual(Math.abs(dot) * 2 ** -23 + 1e-12 * magnitude);
          }
        }
        for (let j = 0; j < width; j++) {
          let sum = 0;
          for (let t = 0; t < tokens; t++) sum += held[t * width + j]!;
          expect(rowSum[j]).toBe(sum);
        }
        // The random-direction null equals the JavaScript reference's (float64 sums, float32 results).
        const reference = new Float32Array(directions.count);
        projectRowSummary({
          rows: Float32Array.from(held),
          width,
          norms,
          normsOffset: position * tokens,
          start,
          end: tokens,
          normalise: true,
          permutation: directions.layerMaps[position]!.permutation,
          signs: directions.layerMaps[position]!.signs,
          unitVectors: directions.unitVectors,
          unitRows: directions.rows,
          count: directions.count,
          out: reference,
          outOffset: 0,
          project: projectRows,
        });
        for (let r = 0; r < directions.count; r++)
          expect(Math.abs(randomDots[position * directions.count + r]! - reference[r]!)).toBeLessThanOrEqual(
            Math.abs(reference[r]!) * 2 ** -22 + 1e-12,
          );
      }
    },
  );
});
