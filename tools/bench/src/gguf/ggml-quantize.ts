import { numberToFloat16Bits } from '@traitlens/core/internal';

/** ggml block types the converter writes: values per block and bytes per block. */
export const ggmlTypes = {
  f32: { id: 0, blockValues: 1, blockBytes: 4 },
  q4_0: { id: 2, blockValues: 32, blockBytes: 18 },
  q8_0: { id: 8, blockValues: 32, blockBytes: 34 },
} as const;

export type GgmlTypeName = keyof typeof ggmlTypes;

const f = Math.fround;

/**
 * Q8_0 as ggml's `quantize_row_q8_0_ref` (and gguf-py's numpy quantizer) computes it, in float32: per
 * block of 32, d = max|x| / 127 stored as fp16, q = roundf(x / d) (round half away from zero), using
 * the float32 d before rounding to fp16 for the codes.
 */
export function quantizeRowQ8_0(row: Float32Array, out: Uint8Array, outOffset = 0): void {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let block = 0; block < row.length / 32; block++) {
    const base = block * 32;
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(row[base + j]!));
    const d = f(amax / 127);
    const id = d !== 0 ? f(1 / d) : 0;
    const at = outOffset + block * 34;
    view.setUint16(at, numberToFloat16Bits(d), true);
    for (let j = 0; j < 32; j++) {
      const x = f(row[base + j]! * id);
      view.setInt8(at + 2 + j, Math.sign(x) * Math.round(Math.abs(x)));
    }
  }
}

/**
 * Q4_0 as ggml's `quantize_row_q4_0_ref`: per block of 32, the value of largest magnitude `max` (sign
 * kept) gives d = max / -8 (fp16); codes min(15, trunc(x/d + 8.5)); byte j holds code j in its low
 * nibble and code j+16 in its high nibble.
 */
export function quantizeRowQ4_0(row: Float32Array, out: Uint8Array, outOffset = 0): void {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let block = 0; block < row.length / 32; block++) {
    const base = block * 32;
    let amax = 0;
    let max = 0;
    for (let j = 0; j < 32; j++) {
      const v = row[base + j]!;
      if (amax < Math.abs(v)) {
        amax = Math.abs(v);
        max = v;
      }
    }
    const d = f(max / -8);
    const id = d !== 0 ? f(1 / d) : 0;
    const at = outOffset + block * 18;
    view.setUint16(at, numberToFloat16Bits(d), true);
    for (let j = 0; j < 16; j++) {
      const low = Math.min(15, Math.trunc(f(f(row[base + j]! * id) + 8.5)));
      const high = Math.min(15, Math.trunc(f(f(row[base + 16 + j]! * id) + 8.5)));
      out[at + 2 + j] = low | (high << 4);
    }
  }
}

/** Bytes of a `[rows, columns]` matrix in a ggml type (columns a multiple of the block size). */
export function ggmlMatrixBytes(type: GgmlTypeName, rows: number, columns: number): number {
  const { blockValues, blockBytes } = ggmlTypes[type];
  return (rows * columns * blockBytes) / blockValues;
}

/** Encodes row-major float32 values in a ggml type; the row length must be a multiple of the block size. */
export function encodeGgmlRows(type: GgmlTypeName, values: Float32Array, columns: number): Uint8Array {
  const rows = values.length / columns;
  if (type === 'f32') return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const out = new Uint8Array(ggmlMatrixBytes(type, rows, columns));
  const rowBytes = out.length / rows;
  const quantize = type === 'q8_0' ? quantizeRowQ8_0 : quantizeRowQ4_0;
  for (let r = 0; r < rows; r++) quantize(values.subarray(r * columns, (r + 1) * columns), out, r * rowBytes);
  return out;
}
