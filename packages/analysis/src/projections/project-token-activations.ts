import { TraitlensError } from '@traitlens/core';
import { instantiateSimdDotKernels } from '@traitlens/core/internal';
import type { RandomDirections } from './random-directions';
import type { ActivationTensors } from './read-activation-tensors';
import { type SimdProjectorState, simdProjectLayer } from './simd-project-layer';
import type { VectorBank } from './vector-bank';

/** Per-token projections of one prompt's part onto every bank vector at every bank layer. */
export interface TokenProjections {
  promptId: string;
  tokenCount: number;
  tokenIds: Int32Array;
  /** Equal to the bank's layers. */
  layers: number[];
  vectorCount: number;
  /** Scalar projection h . v/|v| at [layer position][vector][token]: ((l * K) + k) * T + t. */
  dots: Float32Array;
  /** |h| at [layer position][token], for cosines. */
  norms: Float32Array;
  /** Per layer position: mean of the part's activation rows (only when asked for). */
  meanActivations?: Float64Array[];
  /** The aggregated response projected onto each random direction: [layer position][direction] (when asked for). */
  randomDots?: Float32Array;
}

/** What the random-direction null needs from one file: the directions, the aggregated token range, the measure. */
export interface RandomSummaryRequest {
  directions: RandomDirections;
  start: number;
  end: number;
  /** Cosine measure: average rows divided by their norms. */
  normalise: boolean;
}

const paddedCache = new WeakMap<VectorBank, { rows: number; unitVectors: Float32Array[] }>();

/** Vectors per pass over an activation row (the kernel below is written for exactly this many). */
const vectorsPerPass = 8;

/** The bank's unit vectors padded with zero rows to a multiple of 8, for the 8-wide kernel below. */
export function getPaddedVectors(bank: VectorBank): { rows: number; unitVectors: Float32Array[] } {
  let padded = paddedCache.get(bank);
  if (!padded) {
    const rows = Math.ceil(bank.vectors.length / vectorsPerPass) * vectorsPerPass;
    padded = {
      rows,
      unitVectors: bank.unitVectors.map((unit) => {
        const out = new Float32Array(rows * bank.hiddenSize);
        out.set(unit);
        return out;
      }),
    };
    paddedCache.set(bank, padded);
  }
  return padded;
}

/** The rows to project, the padded unit vectors, and where `projectRows` writes. */
export interface ProjectRowsRequest {
  /** tokenCount x width values, row-major. */
  rows: Float32Array;
  tokenCount: number;
  width: number;
  /** unitRows x width unit vectors, row-major (rows past vectorCount zero). */
  unit: Float32Array;
  unitRows: number;
  /** Vectors written to `dots` (at most unitRows). */
  vectorCount: number;
  dots: Float32Array;
  dotsOffset: number;
  norms: Float32Array;
  normsOffset: number;
  /** Receives the sum of the rows (float64, row order) when given. */
  rowSum: Float64Array | undefined;
}

/**
 * dots[k * T + t] = row_t . unit_k and norms[t] = |row_t| for T rows of width D, in plain JavaScript
 * (float64 sums). Activation files are projected by the WebAssembly SIMD kernels (`simdProjectLayer`);
 * this loop is their reference in tests (with `projectRowSummary`). Eight
 * vectors per pass over a row keep the row value in a register for eight multiply-adds. It references
 * nothing outside itself.
 */
export function projectRows(request: ProjectRowsRequest): void {
  const {
    rows,
    tokenCount,
    width,
    unit,
    unitRows,
    vectorCount,
    dots,
    dotsOffset,
    norms,
    normsOffset,
    rowSum,
  } = request;
  for (let t = 0; t < tokenCount; t++) {
    const rowStart = t * width;
    let squares = 0;
    for (let k = 0; k < unitRows; k += 8) {
      const v0 = k * width;
      const v1 = v0 + width;
      const v2 = v1 + width;
      const v3 = v2 + width;
      const v4 = v3 + width;
      const v5 = v4 + width;
      const v6 = v5 + width;
      const v7 = v6 + width;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      let s4 = 0;
      let s5 = 0;
      let s6 = 0;
      let s7 = 0;
      for (let j = 0; j < width; j++) {
        const x = rows[rowStart + j]!;
        s0 += x * unit[v0 + j]!;
        s1 += x * unit[v1 + j]!;
        s2 += x * unit[v2 + j]!;
        s3 += x * unit[v3 + j]!;
        s4 += x * unit[v4 + j]!;
        s5 += x * unit[v5 + j]!;
        s6 += x * unit[v6 + j]!;
        s7 += x * unit[v7 + j]!;
      }
      const out = dotsOffset + k * tokenCount + t;
      if (k < vectorCount) dots[out] = s0;
      if (k + 1 < vectorCount) dots[out + tokenCount] = s1;
      if (k + 2 < vectorCount) dots[out + 2 * tokenCount] = s2;
      if (k + 3 < vectorCount) dots[out + 3 * tokenCount] = s3;
      if (k + 4 < vectorCount) dots[out + 4 * tokenCount] = s4;
      if (k + 5 < vectorCount) dots[out + 5 * tokenCount] = s5;
      if (k + 6 < vectorCount) dots[out + 6 * tokenCount] = s6;
      if (k + 7 < vectorCount) dots[out + 7 * tokenCount] = s7;
    }
    // The norm and the running sum share one more pass over the row (it is in cache by now).
    if (rowSum) {
      for (let j = 0; j < width; j++) {
        const x = rows[rowStart + j]!;
        squares += x * x;
        rowSum[j]! += x;
      }
    } else {
      for (let j = 0; j < width; j++) squares += rows[rowStart + j]! * rows[rowStart + j]!;
    }
    norms[normsOffset + t] = Math.sqrt(squares);
  }
}

/** Reusable kernel memory, so projecting thousands of files allocates once per size. */
export interface ProjectionScratch {
  simd?: SimdProjectorState;
}

export function createProjectionScratch(): ProjectionScratch {
  return {};
}

/** This thread's kernels when the caller passes no scratch. */
const threadScratch = createProjectionScratch();

/** Checks that read tensors fit the bank (width, layers) with errors that name the file. */
export function assertTensorsFitBank(tensors: ActivationTensors, bank: VectorBank): void {
  if (tensors.hiddenSize !== bank.hiddenSize && tensors.layers.length > 0) {
    throw new TraitlensError(
      'MODEL_MISMATCH',
      `${tensors.path} holds activations of width ${tensors.hiddenSize} but the trait vectors have width ${bank.hiddenSize}; use vectors extracted from the model that produced these activations.`,
      { details: { file: tensors.path, activationWidth: tensors.hiddenSize, vectorWidth: bank.hiddenSize } },
    );
  }
  bank.layers.forEach((layer, position) => {
    if (tensors.layers[position]?.layer !== layer) {
      throw new TraitlensError(
        'INVALID_ARGUMENT',
        `Activations of ${tensors.path} were read for layers [${tensors.layers.map((l) => l.layer).join(', ')}], not the bank's [${bank.layers.join(', ')}].`,
      );
    }
  });
}

/** Projects every token of a read activation part onto every bank vector at every bank layer (this thread). */
export function projectTokenActivations(
  tensors: ActivationTensors,
  bank: VectorBank,
  options: {
    meanActivations?: boolean | undefined;
    scratch?: ProjectionScratch | undefined;
    random?: RandomSummaryRequest | undefined;
  } = {},
): TokenProjections {
  assertTensorsFitBank(tensors, bank);
  const tokenCount = tensors.tokenIds.length;
  const width = bank.hiddenSize;
  const vectorCount = bank.vectors.length;
  const layerCount = bank.layers.length;
  const dots = new Float32Array(layerCount * vectorCount * tokenCount);
  const norms = new Float32Array(layerCount * tokenCount);
  const meanActivations: Float64Array[] | undefined = options.meanActivations ? [] : undefined;
  const padded = getPaddedVectors(bank);
  const random = options.random;
  const randomDots = random ? new Float32Array(layerCount * random.directions.count) : undefined;
  const summaryRows = random ? new Float32Array(layerCount * width) : undefined;
  const scratch = options.scratch ?? threadScratch;
  scratch.simd ??= { kernels: instantiateSimdDotKernels() };
  const state = scratch.simd;
  tensors.layers.forEach((stored, position) => {
    const rowSum = meanActivations ? new Float64Array(width) : undefined;
    const map = random?.directions.layerMaps[position];
    simdProjectLayer(state, {
      bank,
      unitVectors: padded.unitVectors,
      position,
      dtype: stored.dtype,
      bytes: stored.bytes,
      tokenCount,
      width,
      vectorCount,
      dots,
      dotsOffset: position * vectorCount * tokenCount,
      norms,
      normsOffset: position * tokenCount,
      rowSum,
      random:
        random && randomDots && summaryRows && map
          ? {
              directions: random.directions,
              unitVectors: random.directions.unitVectors,
              count: random.directions.count,
              permutation: map.permutation,
              signs: map.signs,
              start: random.start,
              end: random.end,
              normalise: random.normalise,
              rows: summaryRows,
              flush: position === layerCount - 1,
              out: randomDots,
            }
          : undefined,
    });
    if (meanActivations && rowSum) {
      if (tokenCount > 0) for (let j = 0; j < width; j++) rowSum[j] = rowSum[j]! / tokenCount;
      meanActivations.push(rowSum);
    }
  });
  const result: TokenProjections = {
    promptId: tensors.promptId,
    tokenCount,
    tokenIds: tensors.tokenIds,
    layers: bank.layers,
    vectorCount,
    dots,
    norms,
  };
  if (meanActivations) result.meanActivations = meanActivations;
  if (randomDots) result.randomDots = randomDots;
  return result;
}
