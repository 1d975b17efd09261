/** How a weight matrix is stored for onnxruntime's MatMulNBits. */
export interface MatMulNBitsLayout {
  bits: 4 | 8;
  /** Values per block along the input dimension K. */
  blockSize: number;
  /** Bytes per scale: scales have the graph's float type (2 for fp16, 4 for fp32). */
  scaleBytes: number;
  /** Asymmetric quantization stores a zero point per block, packed like the codes. */
  zeroPoints: boolean;
}

/**
 * Bytes of one HF `[out, in]` weight quantized for MatMulNBits: codes `[N, ceil(K/block), block*bits/8]`
 * (the last block zero-padded), scales `[N * ceil(K/block)]`, zero points `[N * ceil(ceil(K/block)*bits/8)]`.
 */
export function matMulNBitsBytes(outFeatures: number, inFeatures: number, layout: MatMulNBitsLayout): number {
  const blocks = Math.ceil(inFeatures / layout.blockSize);
  const codes = outFeatures * blocks * ((layout.blockSize * layout.bits) / 8);
  const scales = outFeatures * blocks * layout.scaleBytes;
  const zeroPoints = layout.zeroPoints ? outFeatures * Math.ceil((blocks * layout.bits) / 8) : 0;
  return codes + scales + zeroPoints;
}
