import type { ArchitectureAdapter } from './architecture-adapter';
import { llamaTensorNames, parseLlamaLikeConfig } from './parse-llama-like-config';

/**
 * Mistral: the Llama layout. Its sliding window only matters beyond `sliding_window` tokens (4096 on
 * Mistral-7B-v0.1, null on later versions); the runtime attends over the full context, which matches
 * HF for sequences shorter than the window.
 */
export const mistralAdapter = {
  architecture: 'MistralForCausalLM',
  parseConfig: (json, source) => parseLlamaLikeConfig(json, source, { attentionBias: false, qkNorm: false }),
  tensorNames: llamaTensorNames,
} satisfies ArchitectureAdapter;
