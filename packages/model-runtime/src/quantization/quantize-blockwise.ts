/** Weight-only quantization settings (MatMulNBits). */
export interface QuantizationSettings {
  bits: 4 | 8;
  /** Values per block along the input dimension K: 32 (more accurate) or 128 (smaller, faster). */
  blockSize: 32 | 64 | 128;
}

export interface QuantizedRows {
  /** [rows, kBlocks, blockSize * bits / 8] codes, packed low nibble first for 4 bits. */
  packed: Uint8Array;
  /** [rows * kBlocks] */
  scales: Float32Array;
  /** [rows * ceil(kBlocks * bits / 8)] zero points, packed like the codes. */
  zeroPoints: Uint8Array;
}

export function blockCount(columns: number, blockSize: number): number {
  return Math.ceil(columns / blockSize);
}

/**
 * Asymmetric block-wise quantization of a row-major [rows, columns] matrix in the layout onnxruntime's
 * MatMulNBits expects (the HF [out, in] weight layout, blocks along `in`). Each block's range is
 * widened to include 0 so zero weights stay exactly zero; the last block is zero-padded.
 * Dequantized value = (code - zeroPoint) * scale.
 */
export function quantizeBlockwise(
  values: Float32Array,
  rows: number,
  columns: number,
  settings: QuantizationSettings,
): QuantizedRows {
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
      const zeroPoint =
        bits === 4
          ? (quantized.zeroPoints[row * zeroPointBytes + (block >> 1)]! >> ((block & 1) * 4)) & 0xf
          : quantized.zeroPoints[row * zeroPointBytes + block]!;
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
