/**
 * WebAssembly SIMD kernels for the two hot loops of the analysis (projecting activation rows onto trait
 * vectors) and extraction (the Gram matrix X X^T): many dot products of float64-widened rows, accumulated
 * in float64 (two lanes), so results match a float64 reference to ~1e-15 relative before any rounding.
 *
 * The module is assembled here from a short instruction list (no toolchain, no binary blob in the
 * repository). Rows live in wasm memory in a "quad layout": rows grouped by 4 (zero rows pad the last
 * group), the width padded with zeros to a multiple of 4 (`stride`), and inside a group, for each pair of
 * columns, the 4 rows' two values side by side (64 bytes). Element (r, k) of a matrix at byte `base` is at
 *   base + (r >> 2) * stride * 32 + (k >> 1) * 64 + (r & 3) * 16 + (k & 1) * 8.
 * A 2 x 4 block of dot products then reads two 16-byte vectors of A and four of B at constant offsets from
 * two pointers that advance by 64 bytes per column pair: eight f64x2 accumulators, no address arithmetic.
 *
 * Exports (all arguments i32; pointers are byte offsets into the exported `memory`):
 * - widenF16(src, rows, stride, dst), widenBF16(...), widenF32(...): `rows` (a multiple of 4) source rows
 *   of `stride` elements (a multiple of 4; f16 / bf16 bits or float32), row-major at `src`, to float64 in
 *   quad layout at `dst`. Exact (every f16, bf16 and f32 value, subnormals, infinities and NaN included).
 * - dots(a, aRows, b, bRows, stride, k0, k1, out, outStride, lower): out[i * outStride + j] +=
 *   sum_{k0 <= k < k1} A[i][k] B[j][k] for i < aRows (a multiple of 2), j < bRows (a multiple of 4), k0 and
 *   k1 even, float64; with lower = 1 only the blocks with j < i + 2 rounded up to 4 (a lower triangle with
 *   a few entries above the diagonal).
 * - rowStats(a, rows, stride, norms, sums): norms[r] = sum_k A[r][k]^2 and sums[k] += A[r][k] in row
 *   order (the same float64 additions as a plain loop over rows), for `rows` a multiple of 4.
 * - weightedSums(a, rowStart, rowEnd, stride, weights, sums): sums[k] += weights[r] * A[r][k] in row
 *   order for every row of the groups of 4 that hold rows rowStart .. rowEnd - 1 (set the weights of the
 *   other rows of those groups to 0).
 */

const i32 = 0x7f;
const v128 = 0x7b;

function uleb(value: number): number[] {
  const out: number[] = [];
  let rest = value >>> 0;
  do {
    let byte = rest & 0x7f;
    rest >>>= 7;
    if (rest !== 0) byte |= 0x80;
    out.push(byte);
  } while (rest !== 0);
  return out;
}

function sleb(value: number): number[] {
  const out: number[] = [];
  let rest = value | 0;
  for (;;) {
    const byte = rest & 0x7f;
    rest >>= 7;
    const done = (rest === 0 && (byte & 0x40) === 0) || (rest === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

/** Instruction helpers: each returns the encoded bytes. */
const op = {
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  if: [0x04, 0x40],
  end: [0x0b],
  br: (depth: number) => [0x0c, ...uleb(depth)],
  brIf: (depth: number) => [0x0d, ...uleb(depth)],
  get: (local: number) => [0x20, ...uleb(local)],
  set: (local: number) => [0x21, ...uleb(local)],
  tee: (local: number) => [0x22, ...uleb(local)],
  i32: (value: number) => [0x41, ...sleb(value)],
  eqz: [0x45],
  ltU: [0x49],
  geU: [0x4f],
  add: [0x6a],
  sub: [0x6b],
  mul: [0x6c],
  and: [0x71],
  shl: [0x74],
  shrU: [0x76],
  f64Add: [0xa0],
  f64Load: (offset: number) => [0x2b, 3, ...uleb(offset)],
  f64Store: (offset: number) => [0x39, 3, ...uleb(offset)],
  simd: (code: number) => [0xfd, ...uleb(code)],
};
const simd = {
  load: (offset: number) => [...op.simd(0x00), 4, ...uleb(offset)],
  load64Zero: (offset: number) => [...op.simd(0x5d), 3, ...uleb(offset)],
  store: (offset: number) => [...op.simd(0x0b), 4, ...uleb(offset)],
  i32x4: (value: number) => [...op.simd(0x0c), ...[0, 1, 2, 3].flatMap(() => bytesOfI32(value))],
  zero: () => [...op.simd(0x0c), ...new Array<number>(16).fill(0)],
  /** i8x16.shuffle bringing lanes 8..15 of the first operand down to 0..7. */
  highToLow: [...op.simd(0x0d), 8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15],
  extractF64: (lane: number) => [...op.simd(0x21), lane],
  and: op.simd(0x4e),
  or: op.simd(0x50),
  bitselect: op.simd(0x52),
  i32x4GtU: op.simd(0x3c),
  extendLowU16: op.simd(0xa9),
  i32x4Shl: op.simd(0xab),
  f32x4Mul: op.simd(0xe6),
  promoteLow: op.simd(0x5f),
  f64x2Add: op.simd(0xf0),
  f64x2Mul: op.simd(0xf2),
};

function bytesOfI32(value: number): number[] {
  return [value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff];
}

interface FunctionSpec {
  name: string;
  params: number;
  /** Extra locals after the parameters: [count, type] runs. */
  locals: [number, number][];
  body: number[];
}

/**
 * Converts the i32x4 of f16 bits in `bitsLocal` to the i32x4 of float32 bits (exact): the f16 magnitude
 * shifted into a float32's exponent and mantissa fields is the value times 2^-112 (subnormal halves become
 * float32 subnormals), so one multiplication by 2^112 gives every finite value; infinities and NaN
 * (exponent 31) get an all-ones exponent; then the sign. Subnormal inputs are rare in activations (on
 * hardware that slows on them, half-heavy data widens at the speed of the integer-only conversion).
 */
function float16ToFloat32Bits(bitsLocal: number, exponentLocal: number): number[] {
  return [
    // e = h & 0x7fff; value = float32(e << 13) * 2^112
    ...op.get(bitsLocal),
    ...simd.i32x4(0x7fff),
    ...simd.and,
    ...op.tee(exponentLocal),
    ...op.i32(13),
    ...simd.i32x4Shl,
    ...simd.i32x4(0x77800000),
    ...simd.f32x4Mul,
    // | 0x7f800000 where e > 0x7bff (infinity, NaN)
    ...op.get(exponentLocal),
    ...simd.i32x4(0x7bff),
    ...simd.i32x4GtU,
    ...simd.i32x4(0x7f800000),
    ...simd.and,
    ...simd.or,
    // | sign << 16
    ...op.get(bitsLocal),
    ...simd.i32x4(0x8000),
    ...simd.and,
    ...op.i32(16),
    ...simd.i32x4Shl,
    ...simd.or,
  ];
}

/** Pushes `local += step`. */
function advance(local: number, step: number): number[] {
  return [...op.get(local), ...op.i32(step), ...op.add, ...op.set(local)];
}

/** A loop running `body` while `counter < limit` (checked first), then `counter += step`. */
function countedLoop(loop: { counter: number; limit: number; step: number; body: number[] }): number[] {
  return [
    ...op.block,
    ...op.loop,
    ...op.get(loop.counter),
    ...op.get(loop.limit),
    ...op.geU,
    ...op.brIf(1),
    ...loop.body,
    ...advance(loop.counter, loop.step),
    ...op.br(0),
    ...op.end,
    ...op.end,
  ];
}

/** Runs `body`, then `pointer += step`, while `pointer < end` (not at all if it starts at or past end). */
function pointerLoop(loop: { pointer: number; end: number; step: number; body: number[] }): number[] {
  return [
    ...op.block,
    ...op.get(loop.pointer),
    ...op.get(loop.end),
    ...op.geU,
    ...op.brIf(0),
    ...op.loop,
    ...loop.body,
    ...op.get(loop.pointer),
    ...op.i32(loop.step),
    ...op.add,
    ...op.tee(loop.pointer),
    ...op.get(loop.end),
    ...op.ltU,
    ...op.brIf(0),
    ...op.end,
    ...op.end,
  ];
}

/** groupBytes = stride * 32: the bytes of one group of 4 rows in quad layout. */
function setGroupBytes(stride: number, groupBytes: number): number[] {
  return [...op.get(stride), ...op.i32(5), ...op.shl, ...op.set(groupBytes)];
}

/** Pushes base + (row >> 2) * groupBytes: where the group holding `row` starts. */
function groupStart(base: number, row: number, groupBytes: number): number[] {
  return [
    ...op.get(base),
    ...op.get(row),
    ...op.i32(2),
    ...op.shrU,
    ...op.get(groupBytes),
    ...op.mul,
    ...op.add,
  ];
}

/** Locals of the widen* functions: the four parameters, then i32 and v128 locals. */
const widenLocal = {
  src: 0,
  rows: 1,
  stride: 2,
  dst: 3,
  r: 4,
  ps: 5,
  psEnd: 6,
  pd: 7,
  groupBytes: 8,
  bits: 9,
  exponent: 10,
  floats: 11,
};

/** Pushes the i32x4 of float32 bits of the four source values at `ps`. */
function loadFourAsFloat32(kind: 'f16' | 'bf16' | 'f32'): number[] {
  const { ps, bits, exponent } = widenLocal;
  if (kind === 'f32') return [...op.get(ps), ...simd.load(0)];
  if (kind === 'bf16')
    return [...op.get(ps), ...simd.load64Zero(0), ...simd.extendLowU16, ...op.i32(16), ...simd.i32x4Shl];
  return [
    ...op.get(ps),
    ...simd.load64Zero(0),
    ...simd.extendLowU16,
    ...op.set(bits),
    ...float16ToFloat32Bits(bits, exponent),
  ];
}

/**
 * ps = src + r * stride << elementShift; psEnd = ps + stride << elementShift; pd = where the row's first
 * column pair goes in quad layout.
 */
function widenRowPointers(elementShift: number): number[] {
  const { src, stride, dst, r, ps, psEnd, pd, groupBytes } = widenLocal;
  return [
    ...op.get(src),
    ...op.get(r),
    ...op.get(stride),
    ...op.mul,
    ...op.i32(elementShift),
    ...op.shl,
    ...op.add,
    ...op.tee(ps),
    ...op.get(stride),
    ...op.i32(elementShift),
    ...op.shl,
    ...op.add,
    ...op.set(psEnd),
    // pd = dst + (r >> 2) * groupBytes + (r & 3) * 16
    ...groupStart(dst, r, groupBytes),
    ...op.get(r),
    ...op.i32(3),
    ...op.and,
    ...op.i32(4),
    ...op.shl,
    ...op.add,
    ...op.set(pd),
  ];
}

/** Four source values to float64: two at pd, two one column pair (64 bytes) further; pd += 128. */
function widenFour(kind: 'f16' | 'bf16' | 'f32'): number[] {
  const { pd, floats } = widenLocal;
  return [
    ...loadFourAsFloat32(kind),
    ...op.set(floats),
    ...op.get(pd),
    ...op.get(floats),
    ...simd.promoteLow,
    ...simd.store(0),
    ...op.get(pd),
    ...op.get(floats),
    ...op.get(floats),
    ...simd.highToLow,
    ...simd.promoteLow,
    ...simd.store(64),
    ...advance(pd, 128),
  ];
}

/** widen*(src, rows, stride, dst): row-major source rows to float64 quad layout. */
function widenFunction(name: string, kind: 'f16' | 'bf16' | 'f32'): FunctionSpec {
  const { rows, stride, r, ps, psEnd, groupBytes } = widenLocal;
  const elementShift = kind === 'f32' ? 2 : 1;
  const body = [
    ...setGroupBytes(stride, groupBytes),
    ...op.i32(0),
    ...op.set(r),
    ...countedLoop({
      counter: r,
      limit: rows,
      step: 1,
      body: [
        ...widenRowPointers(elementShift),
        ...pointerLoop({ pointer: ps, end: psEnd, step: 4 << elementShift, body: widenFour(kind) }),
      ],
    }),
  ];
  return {
    name,
    params: 4,
    locals: [
      [5, i32],
      [3, v128],
    ],
    body,
  };
}

/** Locals of `dots`: the ten parameters, then i32 locals, then v128 locals (the accumulators first). */
const dotsLocal = {
  a: 0,
  aRows: 1,
  b: 2,
  bRows: 3,
  stride: 4,
  k0: 5,
  k1: 6,
  out: 7,
  outStride: 8,
  lower: 9,
  i: 10,
  j: 11,
  pa: 12,
  pb: 13,
  pbEnd: 14,
  jEnd: 15,
  groupBytes: 16,
  paBase: 17,
  outRow: 18,
  kBytes: 19,
  x0: 28,
  x1: 29,
  y: 30,
};

/** The local accumulating the dot products of block row `row` (0 or 1) and block column `column` (0 to 3). */
function dotsAccumulator(row: number, column: number): number {
  return 20 + row * 4 + column;
}

const blockRows = [0, 1];
const blockColumns = [0, 1, 2, 3];

/**
 * paBase = a + (i >> 2) * groupBytes + (i & 2) * 16 + k0 * 32;
 * jEnd = lower && (i + 5) & -4 < bRows ? (i + 5) & -4 : bRows.
 */
function dotsRowStart(): number[] {
  const { a, bRows, k0, lower, i, jEnd, groupBytes, paBase, kBytes } = dotsLocal;
  return [
    ...groupStart(a, i, groupBytes),
    ...op.get(i),
    ...op.i32(2),
    ...op.and,
    ...op.i32(4),
    ...op.shl,
    ...op.add,
    ...op.get(k0),
    ...op.i32(5),
    ...op.shl,
    ...op.add,
    ...op.set(paBase),
    ...op.get(bRows),
    ...op.set(jEnd),
    ...op.get(lower),
    ...op.if,
    ...op.get(i),
    ...op.i32(5),
    ...op.add,
    ...op.i32(-4),
    ...op.and,
    ...op.tee(kBytes),
    ...op.get(bRows),
    ...op.ltU,
    ...op.if,
    ...op.get(kBytes),
    ...op.set(jEnd),
    ...op.end,
    ...op.end,
  ];
}

/** pa = paBase; pb = b + (j >> 2) * groupBytes + k0 * 32; pbEnd = pb + (k1 - k0) * 32; zero accumulators. */
function dotsBlockStart(): number[] {
  const { b, k0, k1, j, pa, pb, pbEnd, groupBytes, paBase } = dotsLocal;
  return [
    ...op.get(paBase),
    ...op.set(pa),
    ...groupStart(b, j, groupBytes),
    ...op.get(k0),
    ...op.i32(5),
    ...op.shl,
    ...op.add,
    ...op.tee(pb),
    ...op.get(k1),
    ...op.get(k0),
    ...op.sub,
    ...op.i32(5),
    ...op.shl,
    ...op.add,
    ...op.set(pbEnd),
    ...blockRows.flatMap((row) =>
      blockColumns.flatMap((column) => [...simd.zero(), ...op.set(dotsAccumulator(row, column))]),
    ),
  ];
}

/** acc[row][column] += x_row * y for both rows, y the column's two values at pb. */
function dotsAccumulate(column: number): number[] {
  const { pb, x0, x1, y } = dotsLocal;
  return [
    ...op.get(pb),
    ...simd.load(column * 16),
    ...op.set(y),
    ...op.get(dotsAccumulator(0, column)),
    ...op.get(x0),
    ...op.get(y),
    ...simd.f64x2Mul,
    ...simd.f64x2Add,
    ...op.set(dotsAccumulator(0, column)),
    ...op.get(dotsAccumulator(1, column)),
    ...op.get(x1),
    ...op.get(y),
    ...simd.f64x2Mul,
    ...simd.f64x2Add,
    ...op.set(dotsAccumulator(1, column)),
  ];
}

/** One column pair of the 2 x 4 block: both rows' values at pa, the four accumulations; pa += 64. */
function dotsColumnPair(): number[] {
  const { pa, x0, x1 } = dotsLocal;
  return [
    ...op.get(pa),
    ...simd.load(0),
    ...op.set(x0),
    ...op.get(pa),
    ...simd.load(16),
    ...op.set(x1),
    ...blockColumns.flatMap(dotsAccumulate),
    ...advance(pa, 64),
  ];
}

/** out[outRow + row * outStride + column] += lane0 + lane1 of the block's accumulator. */
function dotsStoreSum(row: number, column: number): number[] {
  const { outStride, outRow, kBytes } = dotsLocal;
  const accumulator = dotsAccumulator(row, column);
  return [
    ...op.get(outRow),
    ...(row === 1 ? [...op.get(outStride), ...op.i32(3), ...op.shl, ...op.add] : []),
    ...op.tee(kBytes),
    ...op.get(kBytes),
    ...op.f64Load(column * 8),
    ...op.get(accumulator),
    ...simd.extractF64(0),
    ...op.get(accumulator),
    ...simd.extractF64(1),
    ...op.f64Add,
    ...op.f64Add,
    ...op.f64Store(column * 8),
  ];
}

/** outRow = out + (i * outStride + j) * 8, then the eight sums of the block added to out. */
function dotsStoreBlock(): number[] {
  const { out, outStride, i, j, outRow } = dotsLocal;
  return [
    ...op.get(out),
    ...op.get(i),
    ...op.get(outStride),
    ...op.mul,
    ...op.get(j),
    ...op.add,
    ...op.i32(3),
    ...op.shl,
    ...op.add,
    ...op.set(outRow),
    ...blockRows.flatMap((row) => blockColumns.flatMap((column) => dotsStoreSum(row, column))),
  ];
}

/** dots: per pair of A rows, per group of 4 B rows (up to jEnd), one 2 x 4 block of dot products. */
function dotsFunction(): FunctionSpec {
  const { aRows, stride, i, j, pb, pbEnd, jEnd, groupBytes } = dotsLocal;
  const block = [
    ...dotsBlockStart(),
    ...pointerLoop({ pointer: pb, end: pbEnd, step: 64, body: dotsColumnPair() }),
    ...dotsStoreBlock(),
  ];
  const body = [
    ...setGroupBytes(stride, groupBytes),
    ...op.i32(0),
    ...op.set(i),
    ...countedLoop({
      counter: i,
      limit: aRows,
      step: 2,
      body: [
        ...dotsRowStart(),
        ...op.i32(0),
        ...op.set(j),
        ...countedLoop({ counter: j, limit: jEnd, step: 4, body: block }),
      ],
    }),
  ];
  return {
    name: 'dots',
    params: 10,
    locals: [
      [10, i32],
      [11, v128],
    ],
    body,
  };
}

/** The four rows of a group, as indices 0 to 3. */
const groupRows = [0, 1, 2, 3];

function rowStatsFunction(): FunctionSpec {
  const [a, rows, stride, norms, sums] = [0, 1, 2, 3, 4];
  const [g, p, pEnd, s, groupBytes] = [5, 6, 7, 8, 9];
  const norm = (row: number) => 10 + row;
  const x = (row: number) => 14 + row;
  const columnPair = [
    ...groupRows.flatMap((row) => [...op.get(p), ...simd.load(row * 16), ...op.set(x(row))]),
    ...groupRows.flatMap((row) => [
      ...op.get(norm(row)),
      ...op.get(x(row)),
      ...op.get(x(row)),
      ...simd.f64x2Mul,
      ...simd.f64x2Add,
      ...op.set(norm(row)),
    ]),
    // sums[k] = (((sums[k] + x0) + x1) + x2) + x3
    ...op.get(s),
    ...op.get(s),
    ...simd.load(0),
    ...groupRows.flatMap((row) => [...op.get(x(row)), ...simd.f64x2Add]),
    ...simd.store(0),
    ...advance(s, 16),
  ];
  const group = [
    ...groupStart(a, g, groupBytes),
    ...op.tee(p),
    ...op.get(groupBytes),
    ...op.add,
    ...op.set(pEnd),
    ...op.get(sums),
    ...op.set(s),
    ...groupRows.flatMap((row) => [...simd.zero(), ...op.set(norm(row))]),
    ...pointerLoop({ pointer: p, end: pEnd, step: 64, body: columnPair }),
    ...groupRows.flatMap((row) => [
      ...op.get(norms),
      ...op.get(g),
      ...op.i32(3),
      ...op.shl,
      ...op.add,
      ...op.get(norm(row)),
      ...simd.extractF64(0),
      ...op.get(norm(row)),
      ...simd.extractF64(1),
      ...op.f64Add,
      ...op.f64Store(row * 8),
    ]),
  ];
  return {
    name: 'rowStats',
    params: 5,
    locals: [
      [5, i32],
      [8, v128],
    ],
    body: [
      ...setGroupBytes(stride, groupBytes),
      ...op.i32(0),
      ...op.set(g),
      ...countedLoop({ counter: g, limit: rows, step: 4, body: group }),
    ],
  };
}

/** weightedSums: like rowStats' sums, four rows (one group) per pass over the sums, each row weighted. */
function weightedSumsFunction(): FunctionSpec {
  const [a, rowStart, rowEnd, stride, weights, sums] = [0, 1, 2, 3, 4, 5];
  const [g, gEnd, p, s, sEnd, groupBytes] = [6, 7, 8, 9, 10, 11];
  const weight = (row: number) => 12 + row;
  const total = 16;
  // sums[k] = (((sums[k] + w0 x0) + w1 x1) + w2 x2) + w3 x3
  const columnPair = [
    ...op.get(s),
    ...simd.load(0),
    ...op.set(total),
    ...groupRows.flatMap((row) => [
      ...op.get(total),
      ...op.get(p),
      ...simd.load(row * 16),
      ...op.get(weight(row)),
      ...simd.f64x2Mul,
      ...simd.f64x2Add,
      ...op.set(total),
    ]),
    ...op.get(s),
    ...op.get(total),
    ...simd.store(0),
    ...advance(p, 64),
  ];
  const group = [
    ...groupRows.flatMap((row) => [
      ...op.get(weights),
      ...op.get(g),
      ...op.i32(3),
      ...op.shl,
      ...op.add,
      ...op.f64Load(row * 8),
      ...op.simd(0x14),
      ...op.set(weight(row)),
    ]),
    ...groupStart(a, g, groupBytes),
    ...op.set(p),
    ...op.get(sums),
    ...op.tee(s),
    ...op.get(stride),
    ...op.i32(3),
    ...op.shl,
    ...op.add,
    ...op.set(sEnd),
    ...pointerLoop({ pointer: s, end: sEnd, step: 16, body: columnPair }),
  ];
  return {
    name: 'weightedSums',
    params: 6,
    locals: [
      [6, i32],
      [5, v128],
    ],
    body: [
      ...setGroupBytes(stride, groupBytes),
      // groups (rowStart >> 2) .. ((rowEnd + 3) >> 2), in rows: g = rowStart & -4, gEnd = rowEnd
      ...op.get(rowStart),
      ...op.i32(-4),
      ...op.and,
      ...op.set(g),
      ...op.get(rowEnd),
      ...op.set(gEnd),
      ...countedLoop({ counter: g, limit: gEnd, step: 4, body: group }),
    ],
  };
}

function section(id: number, content: number[]): number[] {
  return [id, ...uleb(content.length), ...content];
}

function vector(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function name(text: string): number[] {
  const bytes = [...new TextEncoder().encode(text)];
  return [...uleb(bytes.length), ...bytes];
}

function assemble(functions: FunctionSpec[]): Uint8Array {
  const paramCounts = [...new Set(functions.map((fn) => fn.params))];
  const types = paramCounts.map((count) => [0x60, ...uleb(count), ...new Array<number>(count).fill(i32), 0]);
  const bytes = [
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vector(types)),
    ...section(3, vector(functions.map((fn) => uleb(paramCounts.indexOf(fn.params))))),
    ...section(5, vector([[0x00, 1]])),
    ...section(
      7,
      vector([
        [...name('memory'), 0x02, 0],
        ...functions.map((fn, index) => [...name(fn.name), 0x00, ...uleb(index)]),
      ]),
    ),
    ...section(
      10,
      vector(
        functions.map((fn) => {
          const code = [
            ...vector(fn.locals.map(([count, type]) => [...uleb(count), type])),
            ...fn.body,
            ...op.end,
          ];
          return [...uleb(code.length), ...code];
        }),
      ),
    ),
  ];
  return Uint8Array.from(bytes);
}

let cached: Uint8Array | undefined;

/** The kernels' wasm module bytes (assembled on first use; a few kilobytes). */
export function simdDotKernelsWasm(): Uint8Array {
  cached ??= assemble([
    widenFunction('widenF16', 'f16'),
    widenFunction('widenBF16', 'bf16'),
    widenFunction('widenF32', 'f32'),
    dotsFunction(),
    rowStatsFunction(),
    weightedSumsFunction(),
  ]);
  return cached;
}

/** The part of the WebAssembly global these kernels use (the package's type libraries do not declare it). */
interface WebAssemblyGlobal {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
  validate(bytes: Uint8Array): boolean;
}
const webAssembly = (globalThis as unknown as { WebAssembly: WebAssemblyGlobal }).WebAssembly;

/** The kernels' exports (see the file header for each function's contract). */
export interface SimdDotKernelExports {
  memory: { readonly buffer: ArrayBuffer; grow(pages: number): number };
  widenF16(src: number, rows: number, stride: number, dst: number): void;
  widenBF16(src: number, rows: number, stride: number, dst: number): void;
  widenF32(src: number, rows: number, stride: number, dst: number): void;
  dots(
    a: number,
    aRows: number,
    b: number,
    bRows: number,
    stride: number,
    k0: number,
    k1: number,
    out: number,
    outStride: number,
    lower: number,
  ): void;
  rowStats(a: number, rows: number, stride: number, norms: number, sums: number): void;
  weightedSums(
    a: number,
    rowStart: number,
    rowEnd: number,
    stride: number,
    weights: number,
    sums: number,
  ): void;
}

/** Whether this JavaScript engine runs WebAssembly SIMD (Node 16.4+ does). */
export function simdDotKernelsSupported(): boolean {
  try {
    return webAssembly.validate(simdDotKernelsWasm());
  } catch {
    return false;
  }
}

/** A fresh instance with its own memory (one per thread). */
export function instantiateSimdDotKernels(): SimdDotKernelExports {
  const instance = new webAssembly.Instance(new webAssembly.Module(simdDotKernelsWasm()), {});
  return instance.exports as unknown as SimdDotKernelExports;
}
