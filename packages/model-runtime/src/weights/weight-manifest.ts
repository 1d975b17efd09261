/** Element type of a converted weight. */
export type StoredWeightType = 'float32' | 'float16';

/** One converted weight inside the external data file. */
export interface StoredWeight {
  dims: number[];
  type: StoredWeightType;
  offset: number;
  length: number;
}

/**
 * Logical weight names (independent of the checkpoint's naming):
 * `embedding`, `final_norm`, `lm_head` (absent when tied), and per layer `layers.{i}.{input_norm,
 * post_attention_norm, qkv, qkv_bias, q_norm, k_norm, o, gate_up, down}`. q/k/v and gate/up are fused
 * row-wise so each is one matrix product.
 */
export interface WeightManifest {
  dataFile: string;
  dtype: StoredWeightType;
  weights: Record<string, StoredWeight>;
}
