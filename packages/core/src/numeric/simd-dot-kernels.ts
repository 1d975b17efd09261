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

/** widen*(src, rows, stride, dst): row-major source rows to float64 quad layout. */
function widenFunction(name: string, kind: 'f16' | 'bf16' | 'f32'): FunctionSpec {
  const [src, rows, stride, dst] = [0, 1, 2, 3];
  const [r, ps, psEnd, pd, groupBytes] = [4, 5, 6, 7, 8];
  const [bits, exponent, floats] = [9, 10, 11];
  const elementShift = kind === 'f32' ? 2 : 1;
  const loadFour =
    kind === 'f32'
      ? [...op.get(ps), ...simd.load(0)]
      : kind === 'bf16'
        ? [...op.get(ps), ...simd.load64Zero(0), ...simd.extendLowU16, ...op.i32(16), ...simd.i32x4Shl]
        : [
            ...op.get(ps),
            ...simd.load64Zero(0),
            ...simd.extendLowU16,
            ...op.set(bits),
            ...float16ToFloat32Bits(bits, exponent),
          ];
  const body = [
    ...op.get(stride),
    ...op.i32(5),
    ...op.shl,
    ...op.set(groupBytes),
    ...op.i32(0),
    ...op.set(r),
    ...op.block,
    ...op.loop,
    ...op.get(r),
    ...op.get(rows),
    ...op.geU,
    ...op.brIf(1),
    // ps = src + r * stride << elementShift; psEnd = ps + stride << elementShift
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
    ...op.get(dst),
    ...op.get(r),
    ...op.i32(2),
    ...op.shrU,
    ...op.get(groupBytes),
    ...op.mul,
    ...op.add,
    ...op.get(r),
    ...op.i32(3),
    ...op.and,
    ...op.i32(4),
    ...op.shl,
    ...op.add,
    ...op.set(pd),
    ...op.block,
    ...op.get(ps),
    ...op.get(psEnd),
    ...op.geU,
    ...op.brIf(0),
    ...op.loop,
    ...loadFour,
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
    ...op.get(pd),
    ...op.i32(128),
    ...op.add,
    ...op.set(pd),
    ...op.get(ps),
    ...op.i32(4 << elementShift),
    ...op.add,
    ...op.tee(ps),
    ...op.get(psEnd),
    ...op.ltU,
    ...op.brIf(0),
    ...op.end,
    ...op.end,
    ...op.get(r),
    ...op.i32(1),
    ...op.add,
    ...op.set(r),
    ...op.br(0),
    ...op.end,
    ...op.end,
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

function dotsFunction(): FunctionSpec {
  const [a, aRows, b, bRows, stride, k0, k1, out, outStride, lower] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const [i, j, pa, pb, pbEnd, jEnd, groupBytes, paBase, outRow, kBytes] = [
    10, 11, 12, 13, 14, 15, 16, 17, 18, 19,
  ];
  const acc = [20, 21, 22, 23, 24, 25, 26, 27]; // acc[row * 4 + column]
  const [x0, x1, y] = [28, 29, 30];
  const accumulate = (column: number) => [
    ...op.get(pb),
    ...simd.load(column * 16),
    ...op.set(y),
    ...op.get(acc[column]!),
    ...op.get(x0),
    ...op.get(y),
    ...simd.f64x2Mul,
    ...simd.f64x2Add,
    ...op.set(acc[column]!),
    ...op.get(acc[4 + column]!),
    ...op.get(x1),
    ...op.get(y),
    ...simd.f64x2Mul,
    ...simd.f64x2Add,
    ...op.set(acc[4 + column]!),
  ];
  const storeSum = (row: number, column: number) => [
    // out[outRow + row * outStride + column] += lane0 + lane1
    ...op.get(outRow),
    ...(row === 1 ? [...op.get(outStride), ...op.i32(3), ...op.shl, ...op.add] : []),
    ...op.tee(kBytes),
    ...op.get(kBytes),
    ...op.f64Load(column * 8),
    ...op.get(acc[row * 4 + column]!),
    ...simd.extractF64(0),
    ...op.get(acc[row * 4 + column]!),
    ...simd.extractF64(1),
    ...op.f64Add,
    ...op.f64Add,
    ...op.f64Store(column * 8),
  ];
  const body = [
    ...op.get(stride),
    ...op.i32(5),
    ...op.shl,
    ...op.set(groupBytes),
    ...op.i32(0),
    ...op.set(i),
    ...op.block,
    ...op.loop,
    ...op.get(i),
    ...op.get(aRows),
    ...op.geU,
    ...op.brIf(1),
    // paBase = a + (i >> 2) * groupBytes + (i & 2) * 16 + k0 * 32
    ...op.get(a),
    ...op.get(i),
    ...op.i32(2),
    ...op.shrU,
    ...op.get(groupBytes),
    ...op.mul,
    ...op.add,
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
    // jEnd = lower && (i + 5) & -4 < bRows ? (i + 5) & -4 : bRows
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
    ...op.i32(0),
    ...op.set(j),
    ...op.block,
    ...op.loop,
    ...op.get(j),
    ...op.get(jEnd),
    ...op.geU,
    ...op.brIf(1),
    ...op.get(paBase),
    ...op.set(pa),
    // pb = b + (j >> 2) * groupBytes + k0 * 32; pbEnd = pb + (k1 - k0) * 32
    ...op.get(b),
    ...op.get(j),
    ...op.i32(2),
    ...op.shrU,
    ...op.get(groupBytes),
    ...op.mul,
    ...op.add,
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
    ...acc.flatMap((local) => [...simd.zero(), ...op.set(local)]),
    ...op.block,
    ...op.get(pb),
    ...op.get(pbEnd),
    ...op.geU,
    ...op.brIf(0),
    ...op.loop,
    ...op.get(pa),
    ...simd.load(0),
    ...op.set(x0),
    ...op.get(pa),
    ...simd.load(16),
    ...op.set(x1),
    ...accumulate(0),
    ...accumulate(1),
    ...accumulate(2),
    ...accumulate(3),
    ...op.get(pa),
    ...op.i32(64),
    ...op.add,
    ...op.set(pa),
    ...op.get(pb),
    ...op.i32(64),
    ...op.add,
    ...op.tee(pb),
    ...op.get(pbEnd),
    ...op.ltU,
    ...op.brIf(0),
    ...op.end,
    ...op.end,
    // outRow = out + (i * outStride + j) * 8
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
    ...[0, 1].flatMap((row) => [0, 1, 2, 3].flatMap((column) => storeSum(row, column))),
    ...op.get(j),
    ...op.i32(4),
    ...op.add,
    ...op.set(j),
    ...op.br(0),
    ...op.end,
    ...op.end,
    ...op.get(i),
    ...op.i32(2),
    ...op.add,
    ...op.set(i),
    ...op.br(0),
    ...op.end,
    ...op.end,
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

function rowStatsFunction(): FunctionSpec {
  const [a, rows, stride, norms, sums] = [0, 1, 2, 3, 4];
  const [g, p, pEnd, s, groupBytes] = [5, 6, 7, 8, 9];
  const n = [10, 11, 12, 13];
  const x = [14, 15, 16, 17];
  const body = [
    ...op.get(stride),
    ...op.i32(5),
    ...op.shl,
    ...op.set(groupBytes),
    ...op.i32(0),
    ...op.set(g),
    ...op.block,
    ...op.loop,
    ...op.get(g),
    ...op.get(rows),
    ...op.geU,
    ...op.brIf(1),
    ...op.get(a),
    ...op.get(g),
    ...op.i32(2),
    ...op.shrU,
    ...op.get(groupBytes),
    ...op.mul,
    ...op.add,
    ...op.tee(p),
    ...op.get(groupBytes),
    ...op.add,
    ...op.set(pEnd),
    ...op.get(sums),
    ...op.set(s),
    ...n.flatMap((local) => [...simd.zero(), ...op.set(local)]),
    ...op.block,
    ...op.get(p),
    ...op.get(pEnd),
    ...op.geU,
    ...op.brIf(0),
    ...op.loop,
    ...x.flatMap((local, row) => [...op.get(p), ...simd.load(row * 16), ...op.set(local)]),
    ...x.flatMap((local, row) => [
      ...op.get(n[row]!),
      ...op.get(local),
      ...op.get(local),
      ...simd.f64x2Mul,
      ...simd.f64x2Add,
      ...op.set(n[row]!),
    ]),
    // sums[k] = (((sums[k] + x0) + x1) + x2) + x3
    ...op.get(s),
    ...op.get(s),
    ...simd.load(0),
    ...x.flatMap((local) => [...op.get(local), ...simd.f64x2Add]),
    ...simd.store(0),
    ...op.get(s),
    ...op.i32(16),
    ...op.add,
    ...op.set(s),
    ...op.get(p),
    ...op.i32(64),
    ...op.add,
    ...op.tee(p),
    ...op.get(pEnd),
    ...op.ltU,
    ...op.brIf(0),
    ...op.end,
    ...op.end,
    ...n.flatMap((local, row) => [
      ...op.get(norms),
      ...op.get(g),
      ...op.i32(3),
      ...op.shl,
      ...op.add,
      ...op.get(local),
      ...simd.extractF64(0),
      ...op.get(local),
      ...simd.extractF64(1),
      ...op.f64Add,
      ...op.f64Store(row * 8),
    ]),
    ...op.get(g),
    ...op.i32(4),
    ...op.add,
    ...op.set(g),
    ...op.br(0),
    ...op.end,
    ...op.end,
  ];
  return {
    name: 'rowStats',
    params: 5,
    locals: [
      [5, i32],
      [8, v128],
    ],
    body,
  };
}

/** weightedSums: like rowStats' sums, four rows (one group) per pass over the sums, each row weighted. */
function weightedSumsFunction(): FunctionSpec {
  const [a, rowStart, rowEnd, stride, weights, sums] = [0, 1, 2, 3, 4, 5];
  const [g, gEnd, p, s, sEnd, groupBytes] = [6, 7, 8, 9, 10, 11];
  const w = [12, 13, 14, 15];
  const total = 16;
  const body = [
    ...op.get(stride),
    ...op.i32(5),
    ...op.shl,
    ...op.set(groupBytes),
    // groups (rowStart >> 2) .. ((rowEnd + 3) >> 2), in rows: g = rowStart & -4, gEnd = rowEnd
    ...op.get(rowStart),
    ...op.i32(-4),
    ...op.and,
    ...op.set(g),
    ...op.get(rowEnd),
    ...op.set(gEnd),
    ...op.block,
    ...op.loop,
    ...op.get(g),
    ...op.get(gEnd),
    ...op.geU,
    ...op.brIf(1),
    ...w.flatMap((local, row) => [
      ...op.get(weights),
      ...op.get(g),
      ...op.i32(3),
      ...op.shl,
      ...op.add,
      ...op.f64Load(row * 8),
      ...op.simd(0x14),
      ...op.set(local),
    ]),
    ...op.get(a),
    ...op.get(g),
    ...op.i32(2),
    ...op.shrU,
    ...op.get(groupBytes),
    ...op.mul,
    ...op.add,
    ...op.set(p),
    ...op.get(sums),
    ...op.tee(s),
    ...op.get(stride),
    ...op.i32(3),
    ...op.shl,
    ...op.add,
    ...op.set(sEnd),
    ...op.block,
    ...op.get(s),
    ...op.get(sEnd),
    ...op.geU,
    ...op.brIf(0),
    ...op.loop,
    // sums[k] = (((sums[k] + w0 x0) + w1 x1) + w2 x2) + w3 x3
    ...op.get(s),
    ...simd.load(0),
    ...op.set(total),
    ...w.flatMap((local, row) => [
      ...op.get(total),
      ...op.get(p),
      ...simd.load(row * 16),
      ...op.get(local),
      ...simd.f64x2Mul,
      ...simd.f64x2Add,
      ...op.set(total),
    ]),
    ...op.get(s),
    ...op.get(total),
    ...simd.store(0),
    ...op.get(p),
    ...op.i32(64),
    ...op.add,
    ...op.set(p),
    ...op.get(s),
    ...op.i32(16),
    ...op.add,
    ...op.tee(s),
    ...op.get(sEnd),
    ...op.ltU,
    ...op.brIf(0),
    ...op.end,
    ...op.end,
    ...op.get(g),
    ...op.i32(4),
    ...op.add,
    ...op.set(g),
    ...op.br(0),
    ...op.end,
    ...op.end,
  ];
  return {
    name: 'weightedSums',
    params: 6,
    locals: [
      [6, i32],
      [5, v128],
    ],
    body,
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
