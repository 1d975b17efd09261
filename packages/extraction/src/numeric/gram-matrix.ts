import { instantiateSimdDotKernels, type SimdDotKernelExports } from '@traitlens/core/internal';
import type { Matrix } from './matrix';

/** Columns per pass of the SIMD kernel: 256 float64 of every row (~0.5 MB for 240 rows) stay in L2. */
const columnBlock = 256;

/** The wasm kernels' memory holds at most this much (a 4 GiB address space; larger inputs take the scalar loop). */
const wasmBytesLimit = 2 ** 31;

let kernels: SimdDotKernelExports | undefined;

/**
 * X X^T (rows x rows, float64) for a row-major matrix. Methods work in this n x n space because trait
 * data sets have n (a few hundred samples) << D (thousands of features): everything the probe and
 * pca_diff need is a function of the inner products, so D enters only here, once per layer.
 *
 * Runs on the WebAssembly SIMD kernels of @traitlens/core: the rows are widened to float64, and 2 x 4
 * blocks of the lower triangle accumulate float64 products (two lanes each) over column blocks, so every
 * entry is a float64 sum of the exact products (as `computeGramMatrixScalar`, up to summation order).
 */
export function computeGramMatrix(matrix: Matrix): Float64Array {
  const { rows, columns, data } = matrix;
  const stride = (columns + 3) & ~3;
  const rows4 = (rows + 3) & ~3;
  const staging = 64;
  const widened = Math.ceil((staging + rows4 * stride * 4) / 64) * 64;
  const out = Math.ceil((widened + rows4 * stride * 8) / 64) * 64;
  const end = out + rows4 * rows4 * 8;
  if (end > wasmBytesLimit) return computeGramMatrixScalar(matrix);
  kernels ??= instantiateSimdDotKernels();
  const memory = kernels.memory;
  if (memory.buffer.byteLength < end) memory.grow(Math.ceil((end - memory.buffer.byteLength) / 65536));
  const floats = new Float32Array(memory.buffer, staging, rows4 * stride);
  if (stride === columns) {
    floats.set(data);
    floats.fill(0, rows * stride);
  } else {
    floats.fill(0);
    for (let row = 0; row < rows; row++)
      floats.set(data.subarray(row * columns, (row + 1) * columns), row * stride);
  }
  kernels.widenF32(staging, rows4, stride, widened);
  const sums = new Float64Array(memory.buffer, out, rows4 * rows4);
  sums.fill(0);
  for (let start = 0; start < stride; start += columnBlock)
    kernels.dots(
      widened,
      rows4,
      widened,
      rows4,
      stride,
      start,
      Math.min(stride, start + columnBlock),
      out,
      rows4,
      1,
    );
  const gram = new Float64Array(rows * rows);
  for (let row = 0; row < rows; row++) {
    for (let other = 0; other <= row; other++) {
      const value = sums[row * rows4 + other]!;
      gram[row * rows + other] = value;
      gram[other * rows + row] = value;
    }
  }
  return gram;
}

/** Columns per cache block of the scalar loop: four rows of 1024 float32 stay in L1/L2. */
const scalarColumnBlock = 1024;

/**
 * The same X X^T in plain JavaScript (float64 sums; four rows share each streamed row, columns in cache
 * blocks, lower triangle only): for matrices too large for the wasm memory, and the reference in tests.
 */
export function computeGramMatrixScalar(matrix: Matrix): Float64Array {
  const { rows, columns, data } = matrix;
  const gram = new Float64Array(rows * rows);
  for (let start = 0; start < columns; start += scalarColumnBlock) {
    const end = Math.min(columns, start + scalarColumnBlock);
    let row = 0;
    for (; row + 3 < rows; row += 4) {
      const a0 = row * columns;
      const a1 = a0 + columns;
      const a2 = a1 + columns;
      const a3 = a2 + columns;
      for (let other = 0; other <= row + 3; other++) {
        const b = other * columns;
        let s0 = 0;
        let s1 = 0;
        let s2 = 0;
        let s3 = 0;
        for (let k = start; k < end; k++) {
          const x = data[b + k]!;
          s0 += data[a0 + k]! * x;
          s1 += data[a1 + k]! * x;
          s2 += data[a2 + k]! * x;
          s3 += data[a3 + k]! * x;
        }
        gram[row * rows + other]! += s0;
        gram[(row + 1) * rows + other]! += s1;
        gram[(row + 2) * rows + other]! += s2;
        gram[(row + 3) * rows + other]! += s3;
      }
    }
    for (; row < rows; row++) {
      const a = row * columns;
      for (let other = 0; other <= row; other++) {
        const b = other * columns;
        let s0 = 0;
        let s1 = 0;
        let k = start;
        for (; k + 1 < end; k += 2) {
          s0 += data[a + k]! * data[b + k]!;
          s1 += data[a + k + 1]! * data[b + k + 1]!;
        }
        if (k < end) s0 += data[a + k]! * data[b + k]!;
        gram[row * rows + other]! += s0 + s1;
      }
    }
  }
  // The blocked loop also touched a few entries above the diagonal; the lower triangle is authoritative.
  for (let row = 0; row < rows; row++) {
    for (let other = row + 1; other < rows; other++) gram[row * rows + other] = gram[other * rows + row]!;
  }
  return gram;
}
