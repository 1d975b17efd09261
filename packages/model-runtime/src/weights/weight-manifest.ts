/** Element type of a converted dense weight. */
export type StoredWeightType = 'float32' | 'float16';

export interface ExternalRegion {
  offset: number;
  length: number;
}

/**
 * One converted weight inside the external data file. Dense weights keep the HF layout ([out, in] for
 * matrices). Quantized matrices store MatMulNBits codes at `offset`/`length` plus scale and zero-point
 * regions.
 */
export interface StoredWeight extends ExternalRegion {
  dims: number[];
  type: StoredWeightType;
  /** `zeroPoints` is absent for symmetric blocks (MatMulNBits' default zero point). */
  quantization?: {
    bits: 4 | 8;
    blockSize: number;
    scales: ExternalRegion;
    zeroPoints?: ExternalRegion | undefined;
  };
}

/**
 * Logical weight names (independent of the checkpoint's naming):
 * `embedding`, `final_norm`, `lm_head` (absent when tied and unquantized), and per layer `layers.{i}.{input_norm,
 * post_attention_norm, qkv, qkv_bias, q_norm, k_norm, o, gate_up, down}`. q/k/v and gate/up are fused
 * row-wise so each is one matrix product. Switchable LoRA adds `{matrix}.lora_a` [r_total, in] and
 * `{matrix}.lora_b` [out, r_total] (block-diagonal over the fused parts, scaling folded in).
 */
export interface WeightManifest {
  dataFile: string;
  dtype: StoredWeightType;
  /** `zeroPoints`: asymmetric blocks with a zero point each (false: symmetric, as GGUF's q4_0 / q8_0). */
  quantization?: { bits: 4 | 8; blockSize: number; zeroPoints?: boolean | undefined };
  lora?: { mode: 'switchable' | 'merged'; hash: string };
  weights: Record<string, StoredWeight>;
}
