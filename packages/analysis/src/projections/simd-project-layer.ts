import type { SimdDotKernelExports } from '@traitlens/core/internal';

/** Per thread: the wasm kernels and which bank's unit vectors sit in their memory. */
export interface SimdProjectorState {
  kernels: SimdDotKernelExports;
  bank?: unknown;
  stride?: number;
  unitRows?: number;
  loaded?: Uint8Array;
  scratch?: number;
  directions?: unknown;
  directionsAt?: number;
  directionRows?: number;
}

/** One layer of one activation file to project (see `simdProjectLayer`). */
export interface SimdLayerRequest {
  /** Identity of the bank (the bank itself, or an id in a worker); its unit vectors stay loaded. */
  bank: unknown;
  /** Per bank layer position: unit vectors, rows x width row-major (rows >= vectorCount, zero padded). */
  unitVectors: Float32Array[];
  position: number;
  dtype: 'F16' | 'BF16' | 'F32';
  /** tokenCount x width values, row-major, in `dtype`. */
  bytes: Uint8Array;
  tokenCount: number;
  width: number;
  vectorCount: number;
  dots: Float32Array;
  dotsOffset: number;
  norms: Float32Array;
  normsOffset: number;
  /** Receives the sum of the rows (float64, row order) when given; must start at zero. */
  rowSum?: Float64Array | undefined;
  /**
   * The random-direction null: the mean of rows [start, end) (each divided by its norm when `normalise`),
   * mapped by the layer's signed permutation, (M^T s)[j] = signs[j] s[permutation[j]], rounded to float32
   * into rows[position * width ..]; with `flush` (the file's last layer), every layer's row is projected
   * onto the `count` base directions (rows x width, zero padded) into out[position * count + r].
   */
  random?: SimdRandomSummaryRequest | undefined;
}

/** The random-direction null's part of a `SimdLayerRequest`. */
export interface SimdRandomSummaryRequest {
  /** Identity of the direction set (it stays loaded). */
  directions: unknown;
  unitVectors: Float32Array;
  count: number;
  permutation: Int32Array;
  signs: Float32Array;
  start: number;
  end: number;
  normalise: boolean;
  /** layers x width: the mapped means of this file, filled layer by layer. */
  rows: Float32Array;
  flush: boolean;
  /** layers x count. */
  out: Float32Array;
}

/** Padded sizes and byte offsets in wasm memory of one layer's buffers (see `simdProjectLayer`). */
interface SimdLayout {
  stride: number;
  unitRows: number;
  rows4: number;
  directionRows: number;
  summaryRows: number;
  /** The layer's widened unit vectors. */
  unitAt: number;
  /** Staging for source rows before widening. */
  src: number;
  /** The widened activation rows. */
  a: number;
  out: number;
  normsAt: number;
  sums: number;
  weights: number;
  summaryAt: number;
  randomOut: number;
  end: number;
}

/**
 * The layout of one layer's buffers in wasm memory; a new bank, width or direction set starts the memory
 * over (nothing of it loaded yet).
 */
function placeSimdLayer(state: SimdProjectorState, request: SimdLayerRequest): SimdLayout {
  const { width, tokenCount, vectorCount, random } = request;
  const stride = (width + 3) & ~3;
  const unitRows = (vectorCount + 3) & ~3;
  const rows4 = (tokenCount + 3) & ~3;
  const layerBytes = unitRows * stride * 8;
  const directionRows = random ? (random.count + 3) & ~3 : 0;
  if (
    state.bank !== request.bank ||
    state.stride !== stride ||
    state.unitRows !== unitRows ||
    (random && (state.directions !== random.directions || state.directionRows !== directionRows))
  ) {
    state.bank = request.bank;
    state.stride = stride;
    state.unitRows = unitRows;
    state.loaded = new Uint8Array(request.unitVectors.length);
    state.directions = undefined;
    state.directionRows = directionRows;
    state.directionsAt = Math.ceil((64 + request.unitVectors.length * layerBytes) / 64) * 64;
    state.scratch = Math.ceil((state.directionsAt + directionRows * stride * 8) / 64) * 64;
  }
  const src = state.scratch!;
  const summaryRows = random ? (random.rows.length / width + 3) & ~3 : 0;
  const sourceRows = Math.max(rows4, unitRows, directionRows, summaryRows);
  const a = Math.ceil((src + sourceRows * stride * 4 + 64) / 64) * 64;
  const out = Math.ceil((a + rows4 * stride * 8) / 64) * 64;
  const normsAt = Math.ceil((out + rows4 * unitRows * 8) / 64) * 64;
  const sums = Math.ceil((normsAt + rows4 * 8) / 64) * 64;
  const weights = Math.ceil((sums + stride * 8) / 64) * 64;
  const summaryAt = Math.ceil((weights + rows4 * 8) / 64) * 64;
  const randomOut = Math.ceil((summaryAt + summaryRows * stride * 8) / 64) * 64;
  const end = Math.ceil((randomOut + summaryRows * directionRows * 8) / 64) * 64;
  const unitAt = 64 + request.position * layerBytes;
  return {
    stride,
    unitRows,
    rows4,
    directionRows,
    summaryRows,
    unitAt,
    src,
    a,
    out,
    normsAt,
    sums,
    weights,
    summaryAt,
    randomOut,
    end,
  };
}

/** Grows the memory to the layout, widens the layer's unit vectors once, and the activation rows to `a`. */
function loadSimdRows(state: SimdProjectorState, request: SimdLayerRequest, layout: SimdLayout): void {
  const kernels = state.kernels;
  const { width, tokenCount } = request;
  const { stride, unitRows, rows4, src, a, end, unitAt } = layout;
  const loaded = state.loaded!;
  const elementSize = request.dtype === 'F32' ? 4 : 2;
  const memory = kernels.memory;
  if (memory.buffer.byteLength < end) memory.grow(Math.ceil((end - memory.buffer.byteLength) / 65536));
  const buffer = memory.buffer;
  const bytes = new Uint8Array(buffer);
  if (!loaded[request.position]) {
    const unit = request.unitVectors[request.position]!;
    const floats = new Float32Array(buffer, src, unitRows * stride);
    floats.fill(0);
    for (let k = 0; k < Math.min(unitRows, unit.length / width); k++)
      floats.set(unit.subarray(k * width, (k + 1) * width), k * stride);
    kernels.widenF32(src, unitRows, stride, unitAt);
    loaded[request.position] = 1;
  }
  const rowBytes = width * elementSize;
  const strideBytes = stride * elementSize;
  const input = request.bytes;
  if (stride === width) {
    bytes.set(input.subarray(0, tokenCount * rowBytes), src);
  } else {
    for (let t = 0; t < tokenCount; t++) {
      bytes.set(input.subarray(t * rowBytes, (t + 1) * rowBytes), src + t * strideBytes);
      bytes.fill(0, src + t * strideBytes + rowBytes, src + (t + 1) * strideBytes);
    }
  }
  bytes.fill(0, src + tokenCount * strideBytes, src + rows4 * strideBytes);
  if (request.dtype === 'F16') kernels.widenF16(src, rows4, stride, a);
  else if (request.dtype === 'BF16') kernels.widenBF16(src, rows4, stride, a);
  else kernels.widenF32(src, rows4, stride, a);
}

/** Dot products, norms and row sums of the widened rows, written to the request's arrays. */
function projectSimdRows(state: SimdProjectorState, request: SimdLayerRequest, layout: SimdLayout): void {
  const kernels = state.kernels;
  const { width, tokenCount, vectorCount } = request;
  const { stride, unitRows, rows4, a, out, normsAt, sums, unitAt } = layout;
  const values = new Float64Array(kernels.memory.buffer);
  values.fill(0, out / 8, out / 8 + rows4 * unitRows);
  values.fill(0, sums / 8, sums / 8 + stride);
  if (rows4 > 0) kernels.dots(a, rows4, unitAt, unitRows, stride, 0, stride, out, unitRows, 0);
  kernels.rowStats(a, rows4, stride, normsAt, sums);
  const { dots, dotsOffset, norms, normsOffset } = request;
  for (let t = 0; t < tokenCount; t++) norms[normsOffset + t] = Math.sqrt(values[normsAt / 8 + t]!);
  for (let k = 0; k < vectorCount; k++) {
    const target = dotsOffset + k * tokenCount;
    let from = out / 8 + k;
    for (let t = 0; t < tokenCount; t++, from += unitRows) dots[target + t] = values[from]!;
  }
  if (request.rowSum) request.rowSum.set(values.subarray(sums / 8, sums / 8 + width));
}

/**
 * The layer's mapped (weighted) mean of rows [start, end), rounded to float32 into random.rows; the
 * direction set is widened into memory first when it is not there yet.
 */
function mapSimdRandomSummary(
  state: SimdProjectorState,
  request: SimdLayerRequest,
  random: SimdRandomSummaryRequest,
  layout: SimdLayout,
): void {
  const kernels = state.kernels;
  const { width, norms, normsOffset } = request;
  const { stride, rows4, directionRows, src, a, sums, weights } = layout;
  const buffer = kernels.memory.buffer;
  const values = new Float64Array(buffer);
  if (state.directions !== random.directions) {
    const floats = new Float32Array(buffer, src, directionRows * stride);
    floats.fill(0);
    for (let r = 0; r < random.count; r++)
      floats.set(random.unitVectors.subarray(r * width, (r + 1) * width), r * stride);
    kernels.widenF32(src, directionRows, stride, state.directionsAt!);
    state.directions = random.directions;
  }
  values.fill(0, sums / 8, sums / 8 + stride);
  values.fill(0, weights / 8, weights / 8 + rows4);
  for (let t = random.start; t < random.end; t++) {
    const norm = norms[normsOffset + t]!;
    values[weights / 8 + t] = random.normalise ? (norm === 0 ? 0 : 1 / norm) : 1;
  }
  if (random.end > random.start) kernels.weightedSums(a, random.start, random.end, stride, weights, sums);
  // The mapped mean, rounded to float32 as a row of activations is.
  const tokens = random.end - random.start;
  const mapped = random.rows;
  const at = request.position * width;
  for (let j = 0; j < width; j++)
    mapped[at + j] =
      tokens > 0 ? (random.signs[j]! * values[sums / 8 + random.permutation[j]!]!) / tokens : Number.NaN;
}

/** All layers' mapped means against the base directions at once (one row would waste half a 2 x 4 block). */
function projectSimdRandomSummaries(
  state: SimdProjectorState,
  request: SimdLayerRequest,
  random: SimdRandomSummaryRequest,
  layout: SimdLayout,
): void {
  const kernels = state.kernels;
  const { width } = request;
  const { stride, directionRows, summaryRows, src, summaryAt, randomOut } = layout;
  const buffer = kernels.memory.buffer;
  const values = new Float64Array(buffer);
  const mapped = random.rows;
  const layers = mapped.length / width;
  const staged = new Float32Array(buffer, src, summaryRows * stride);
  staged.fill(0);
  for (let l = 0; l < layers; l++) staged.set(mapped.subarray(l * width, (l + 1) * width), l * stride);
  kernels.widenF32(src, summaryRows, stride, summaryAt);
  values.fill(0, randomOut / 8, randomOut / 8 + summaryRows * directionRows);
  kernels.dots(
    summaryAt,
    summaryRows,
    state.directionsAt!,
    directionRows,
    stride,
    0,
    stride,
    randomOut,
    directionRows,
    0,
  );
  for (let l = 0; l < layers; l++)
    for (let r = 0; r < random.count; r++)
      random.out[l * random.count + r] = values[randomOut / 8 + l * directionRows + r]!;
}

/**
 * Projects one layer's activation rows onto the bank's unit vectors with the WebAssembly SIMD kernels of
 * @traitlens/core: rows widened to float64 in wasm memory (f16, bf16 and f32 exactly), dot products, norms
 * and row sums accumulated in float64, written like `projectRows` writes them: dots[dotsOffset + k * T + t],
 * norms[normsOffset + t] = |row_t|; and the aggregated row's projections onto random directions (as
 * `projectRowSummary` computes them).
 *
 * It and its steps reference nothing outside themselves (their source is shipped to the projection
 * workers as text, see `simdProjectLayerSource`) and declare no inner functions (a bundler's name-keeping
 * helper would then be referenced in that text).
 */
export function simdProjectLayer(
  state: SimdProjectorState,
  request: SimdLayerRequest,
): Float64Array | undefined {
  const layout = placeSimdLayer(state, request);
  loadSimdRows(state, request, layout);
  projectSimdRows(state, request, layout);
  const random = request.random;
  if (!random) return;
  mapSimdRandomSummary(state, request, random, layout);
  if (!random.flush) return;
  projectSimdRandomSummaries(state, request, random, layout);
}

/**
 * Source text of an expression evaluating to `simdProjectLayer`, with its steps declared beside it (for
 * the projection workers, which evaluate it without module resolution).
 */
export function simdProjectLayerSource(): string {
  const steps = [
    placeSimdLayer,
    loadSimdRows,
    projectSimdRows,
    mapSimdRandomSummary,
    projectSimdRandomSummaries,
    simdProjectLayer,
  ];
  return `(() => {\n${steps.map((step) => step.toString()).join('\n')}\nreturn ${simdProjectLayer.name};\n})()`;
}
