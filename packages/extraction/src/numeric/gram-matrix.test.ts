import { describe, expect, it } from 'vitest';
import { computeGramMatrix, computeGramMatrixScalar } from './gram-matrix';
import { createMatrix } from './matrix';
import { createSeededRandom } from './seeded-random';

describe('computeGramMatrix (WebAssembly SIMD)', () => {
  // Row counts off the 2 x 4 blocks and widths off the column blocks (256) and the padding (4).
  it.each([
    { rows: 1, columns: 1 },
    { rows: 7, columns: 5 },
    { rows: 13, columns: 257 },
    { rows: 30, columns: 1030 },
  ])(
    'equals float64 sums of the exact products within 1e-12 relative ($rows x $columns), symmetric',
    ({ rows, columns }) => {
      const random = createSeededRandom(rows * 7919 + columns);
      const data = Float32Array.from({ length: rows * columns }, () => random.nextNormal() + 2);
      const matrix = createMatrix(rows, columns, data);
      const gram = computeGramMatrix(matrix);
      const scalar = computeGramMatrixScalar(matrix);
      for (let i = 0; i < rows; i++) {
        for (let j = 0; j < rows; j++) {
          let sum = 0;
          let magnitude = 0;
          for (let k = 0; k < columns; k++) {
            sum += data[i * columns + k]! * data[j * columns + k]!;
            magnitude += Math.abs(data[i * columns + k]! * data[j * columns + k]!);
          }
          expect(Math.abs(gram[i * rows + j]! - sum)).toBeLessThanOrEqual(1e-12 * magnitude);
          expect(Math.abs(scalar[i * rows + j]! - sum)).toBeLessThanOrEqual(1e-12 * magnitude);
          expect(gram[i * rows + j]).toBe(gram[j * rows + i]);
        }
      }
    },
  );

  it('gives the same matrix when called again with other sizes in between (reused kernel memory)', () => {
    const random = createSeededRandom(5);
    const a = createMatrix(
      9,
      40,
      Float32Array.from({ length: 360 }, () => random.nextNormal()),
    );
    const b = createMatrix(
      20,
      301,
      Float32Array.from({ length: 6020 }, () => random.nextNormal()),
    );
    const first = computeGramMatrix(a);
    computeGramMatrix(b);
    expect(computeGramMatrix(a)).toEqual(first);
  });
});
