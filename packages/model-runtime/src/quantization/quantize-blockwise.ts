import { float16BitsToNumber, numberToFloat16Bits } from '@traitlens/core/internal';

/** Weight-only quantization settings (MatMulNBits). */
export interface QuantizationSettings {
  bits: 4 | 8;
  /** Values per block along the input dimension K: 32 (more accurate) or 128 (smaller, faster). */
  blockSize: 32 | 64 | 128;
  /**
   * Asymmetric blocks with a zero point each (default true), or symmetric blocks without (false): then
   * the blocks are those of GGUF's q4_0 / q8_0 (see `quantizeSymmetricBlock`) and MatMulNBits reads its
   * default zero point (8 for 4 bits, 128 for 8 bits).
   */
  zeroPoints?: boolean | undefined;
}

export interface QuantizedRows {
  /** [rows, kBlocks, blockSize * bits / 8] codes, packed low nibble first for 4 bits. */
  packed: Uint8Array;
  /** [rows * kBlocks] */
  scales: Float32Array;
  /** [rows * ceil(kBlocks * bits / 8)] zero points, packed like the codes; absent for symmetric blocks. */
  zeroPoints: Uint8Array | undefined;
}

/** The zero point MatMulNBits and GatherBlockQuantized assume when a weight has none. */
export function defaultZeroPoint(bits: 4 | 8): number {
  return 1 << (bits - 1);
}

export function blockCount(columns: number, blockSize: number): number {
  return Math.ceil(columns / blockSize);
}

/**
 * Asymmetric block-wise quantization of a row-major [rows, columns] matrix in the layout onnxruntime's
 * MatMulNBits expects (the HF [out, in] weight layout, blocks along `in`). Each block's range is
 * widened to include 0 so zero weights stay exactly zero; the last block is zero-padded.
 * Dequantized value = (code - zeroPoint) * scale. With `zeroPoints: false`, symmetric blocks instead.
 */
export function quantizeBlockwise(
  values: Float32Array,
  rows: number,
  columns: number,
  settings: QuantizationSettings,
): QuantizedRows {
  if (settings.zeroPoints === false) return quantizeSymmetric(values, rows, columns, settings);
  const { bits, blockSize } = settings;
  const maximumCode = (1 << bits) - 1;
  const blocks = blockCount(columns, blockSize);
  const blobSize = (blockSize * bits) / 8;
  const zeroPointBytes = Math.ceil((blocks * bits) / 8);
  const packed = new Uint8Array(rows * blocks * blobSize);
  const scales = new Float32Array(rows * blocks);
  const zeroPoints = new Uint8Array(rows * zeroPointBytes);
  for (let row = 0; row < rows; row++) {
    const rowOffset = row * columns;
    for (let block = 0; block < blocks; block++) {
      const start = block * blockSize;
      const end = Math.min(columns, start + blockSize);
      let minimum = 0;
      let maximum = 0;
      for (let i = start; i < end; i++) {
        const value = values[rowOffset + i]!;
        if (value < minimum) minimum = value;
        if (value > maximum) maximum = value;
      }
      let scale = (maximum - minimum) / maximumCode;
      let zeroPoint = 0;
      if (scale === 0) scale = 1;
      else zeroPoint = Math.min(maximumCode, Math.max(0, Math.round(-minimum / scale)));
      // Stored in float32, so quantize against the stored value.
      scale = Math.fround(scale);
      scales[row * blocks + block] = scale;
      if (bits === 4) zeroPoints[row * zeroPointBytes + (block >> 1)]! |= zeroPoint << ((block & 1) * 4);
      else zeroPoints[row * zeroPointBytes + block] = zeroPoint;
      const blobOffset = (row * blocks + block) * blobSize;
      for (let i = 0; i < blockSize; i++) {
        const column = start + i;
        const value = column < end ? values[rowOffset + column]! : 0;
        const code = Math.min(maximumCode, Math.max(0, Math.round(value / scale) + zeroPoint));
        if (bits === 4) packed[blobOffset + (i >> 1)]! |= code << ((i & 1) * 4);
        else packed[blobOffset + i] = code;
      }
    }
  }
  return { packed, scales, zeroPoints };
}

/** The float values a quantized matrix stands for (float64 reference for tests and error reports). */
export function dequantizeBlockwise(
  quantized: QuantizedRows,
  rows: number,
  columns: number,
  settings: QuantizationSettings,
): Float64Array {
  const { bits, blockSize } = settings;
  const blocks = blockCount(columns, blockSize);
  const blobSize = (blockSize * bits) / 8;
  const zeroPointBytes = Math.ceil((blocks * bits) / 8);
  const out = new Float64Array(rows * columns);
  for (let row = 0; row < rows; row++) {
    for (let block = 0; block < blocks; block++) {
      const scale = quantized.scales[row * blocks + block]!;
      const zeroPoints = quantized.zeroPoints;
      const zeroPoint = !zeroPoints
        ? defaultZeroPoint(bits)
        : bits === 4
          ? (zeroPoints[row * zeroPointBytes + (block >> 1)]! >> ((block & 1) * 4)) & 0xf
          : zeroPoints[row * zeroPointBytes + block]!;
      const blobOffset = (row * blocks + block) * blobSize;
      for (let i = 0; i < blockSize; i++) {
        const column = block * blockSize + i;
        if (column >= columns) break;
        const code =
          bits === 4
            ? (quantized.packed[blobOffset + (i >> 1)]! >> ((i & 1) * 4)) & 0xf
            : quantized.packed[blobOffset + i]!;
        out[row * columns + column] = (code - zeroPoint) * scale;
      }
    }
  }
  return out;
}

const f = Math.fround;

/**
 * Symmetric blocks as GGUF's reference quantizers make them, in float32 arithmetic, so the weights equal
 * a q4_0 / q8_0 file's exactly (blocks of 32): 4 bits take the value of largest magnitude `max` (sign
 * kept), d = max / -8 and codes min(15, trunc(x / d + 8.5)); 8 bits take d = max|x| / 127 and codes
 * roundf(x / d) + 128 (round half away from zero). The codes use the float32 d; the stored scale is d
 * rounded to float16, as GGUF stores it. Dequantized value = (code - 8 or 128) * scale.
 */
function quantizeSymmetric(
  values: Float32Array,
  rows: number,
  columns: number,
  settings: QuantizationSettings,
): QuantizedRows {
  const { bits, blockSize } = settings;
  const blocks = blockCount(columns, blockSize);
  const blobSize = (blockSize * bits) / 8;
  const packed = new Uint8Array(rows * blocks * blobSize);
  const scales = new Float32Array(rows * blocks);
  const block = new Float32Array(blockSize);
  for (let row = 0; row < rows; row++) {
    for (let index = 0; index < blocks; index++) {
      const start = row * columns + index * blockSize;
      const end = Math.min(row * columns + columns, start + blockSize);
      block.fill(0);
      block.set(values.subarray(start, end));
      const blobOffset = (row * blocks + index) * blobSize;
      scales[row * blocks + index] = quantizeSymmetricBlock(
        block,
        bits,
        packed.subarray(blobOffset, blobOffset + blobSize),
      );
    }
  }
  return { packed, scales, zeroPoints: undefined };
}

/** One symmetric block into `codes` (packed low nibble first for 4 bits); returns its scale. */
function quantizeSymmetricBlock(block: Float32Array, bits: 4 | 8, codes: Uint8Array): number {
  let largest = 0;
  for (const value of block) if (Math.abs(value) > Math.abs(largest)) largest = value;
  const d = bits === 4 ? f(largest / -8) : f(Math.abs(largest) / 127);
  const inverse = d !== 0 ? f(1 / d) : 0;
  for (let i = 0; i < block.length; i++) {
    const x = f(block[i]! * inverse);
    if (bits === 4) codes[i >> 1]! |= Math.min(15, Math.trunc(f(x + 8.5))) << ((i & 1) * 4);
    else codes[i] = Math.sign(x) * Math.round(Math.abs(x)) + 128;
  }
  return float16BitsToNumber(numberToFloat16Bits(d));
}
