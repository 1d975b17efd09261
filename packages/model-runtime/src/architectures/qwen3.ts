import type { ArchitectureAdapter } from './architecture-adapter';
import { llamaTensorNames, parseLlamaLikeConfig } from './parse-llama-like-config';

/** Qwen3 (dense): Llama layout with an RMSNorm on each query and key head before rotary. */
export const qwen3Adapter = {
  architecture: 'Qwen3ForCausalLM',
  parseConfig: (json, source) => parseLlamaLikeConfig(json, source, { attentionBias: false, qkNorm: true }),
  tensorNames: llamaTensorNames,
} satisfies ArchitectureAdapter;
