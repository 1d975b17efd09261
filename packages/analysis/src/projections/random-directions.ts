import { TraitlensError } from '@traitlens/core';
import { createSeededRandom } from '../stats/seeded-random';
import type { projectRows } from './project-token-activations';

/**
 * Isotropic random unit directions for the random-direction null: R base directions u_r of width D, and
 * per layer position a random signed permutation M_l, so direction r at layer l is M_l u_r: again an
 * isotropic unit vector, and (nearly) independent of its draw at other layers, as if every layer had drawn
 * its own directions. That makes the null's maximum over layers at least as extreme as a trait's (trait
 * vectors agree across neighbouring layers), i.e. conservative, while storing R x D + L x D numbers instead
 * of R x D x L (1,000 x 8,192 x 80 floats would be 2.6 GB). Rows are zero-padded to a multiple of 8 for the
 * 8-wide projection kernel.
 */
export interface RandomDirections {
  count: number;
  hiddenSize: number;
  seed: number;
  /** rows x D, row-major; rows >= count (zero padding). */
  unitVectors: Float32Array;
  rows: number;
  /** Per layer position: the signed permutation, (M_l u)[permutation[j]] = signs[j] u[j]. */
  layerMaps: { permutation: Int32Array; signs: Float32Array }[];
}

/** Seed offset so the null's directions never coincide with the bank's random baseline vectors. */
const streamOffset = 0x5f3759df;

export function createRandomDirections(options: {
  count: number;
  hiddenSize: number;
  /** Layer positions to draw a signed permutation for (default 1: the identity-free single map). */
  layers?: number;
  seed?: number;
}): RandomDirections {
  const { count, hiddenSize } = options;
  if (!Number.isInteger(count) || count < 1)
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      `The random-direction null needs a positive whole number of directions, got ${count}.`,
    );
  const seed = options.seed ?? 0;
  const random = createSeededRandom((seed + streamOffset) >>> 0);
  const rows = Math.ceil(count / 8) * 8;
  const unitVectors = new Float32Array(rows * hiddenSize);
  const row = new Float64Array(hiddenSize);
  for (let r = 0; r < count; r++) {
    let squares = 0;
    for (let j = 0; j < hiddenSize; j++) {
      row[j] = random.nextNormal();
      squares += row[j]! * row[j]!;
    }
    const norm = Math.sqrt(squares);
    for (let j = 0; j < hiddenSize; j++) unitVectors[r * hiddenSize + j] = row[j]! / norm;
  }
  const layerMaps: RandomDirections['layerMaps'] = [];
  for (let l = 0; l < (options.layers ?? 1); l++) {
    const permutation = Int32Array.from({ length: hiddenSize }, (_, j) => j);
    for (let i = hiddenSize - 1; i > 0; i--) {
      const j = random.nextInteger(i + 1);
      const held = permutation[i]!;
      permutation[i] = permutation[j]!;
      permutation[j] = held;
    }
    const signs = Float32Array.from({ length: hiddenSize }, () => (random.nextUniform() < 0.5 ? -1 : 1));
    layerMaps.push({ permutation, signs });
  }
  return { count, hiddenSize, seed, unitVectors, rows, layerMaps };
}

/** One response's rows at one layer and that layer's random directions, for `projectRowSummary`. */
export interface RowSummaryProjection {
  /** Token rows `[tokens, width]` and their norms (read from `normsOffset`). */
  rows: Float32Array;
  width: number;
  norms: Float32Array;
  normsOffset: number;
  /** The aggregation's tokens [start, end). */
  start: number;
  end: number;
  /** Divide each row by its norm first (cosine measure). */
  normalise: boolean;
  /** The layer's map M_l: a permutation with signs. */
  permutation: Int32Array;
  signs: Float32Array;
  /** The base directions `[unitRows, width]` and how many to project onto. */
  unitVectors: Float32Array;
  unitRows: number;
  count: number;
  /** Where the `count` projections go. */
  out: Float32Array;
  outOffset: number;
  /** The scalar projection kernel. */
  project: typeof projectRows;
}

/**
 * Projects one response's per-layer summary onto every random direction of that layer. The summary s is
 * the mean, over the aggregation's tokens [start, end), of the activation rows (scalar measure) or of the
 * rows divided by their norms (cosine measure): since h . u and (h/|h|) . u are linear in h/(1 or |h|), the
 * projection of the summary equals the aggregated per-token projections exactly (up to float32 rounding).
 * s . (M_l u) = (M_l^T s) . u, so the summary is mapped once and projected onto the base directions.
 * Activation files take the same steps in `simdProjectLayer` (WebAssembly SIMD); this plain JavaScript
 * version, with `project` the scalar kernel, is its reference in tests.
 */
export function projectRowSummary(input: RowSummaryProjection): void {
  const { rows, width, norms, normsOffset, start, end, normalise, permutation, signs } = input;
  const { unitVectors, unitRows, count, out, outOffset, project } = input;
  const sums = new Float64Array(width);
  for (let t = start; t < end; t++) {
    const norm = norms[normsOffset + t]!;
    const weight = normalise ? (norm === 0 ? 0 : 1 / norm) : 1;
    if (weight === 0) continue;
    const offset = t * width;
    for (let j = 0; j < width; j++) sums[j]! += rows[offset + j]! * weight;
  }
  const single = new Float32Array(width);
  const tokens = end - start;
  for (let j = 0; j < width; j++)
    single[j] = tokens > 0 ? (signs[j]! * sums[permutation[j]!]!) / tokens : Number.NaN;
  project({
    rows: single,
    tokenCount: 1,
    width,
    unit: unitVectors,
    unitRows,
    vectorCount: count,
    dots: out,
    dotsOffset: outOffset,
    norms: new Float32Array(1),
    normsOffset: 0,
    rowSum: undefined,
  });
}
