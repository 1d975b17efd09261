import type { ArchitectureAdapter } from './architecture-adapter';
import { llamaTensorNames, parseLlamaLikeConfig } from './parse-llama-like-config';

/** Qwen2 / Qwen2.5: Llama layout with biases on the q, k and v projections. */
export const qwen2Adapter = {
  architecture: 'Qwen2ForCausalLM',
  parseConfig: (json, source) => parseLlamaLikeConfig(json, source, { attentionBias: true, qkNorm: false }),
  tensorNames: llamaTensorNames,
} satisfies ArchitectureAdapter;
