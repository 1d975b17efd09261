import type { ArchitectureAdapter } from './architecture-adapter';
import { llamaTensorNames, parseLlamaLikeConfig } from './parse-llama-like-config';

/** Llama 2/3/3.1/3.3 (llama3 rope scaling included). */
export const llamaAdapter = {
  architecture: 'LlamaForCausalLM',
  parseConfig: (json, source) => parseLlamaLikeConfig(json, source, { attentionBias: false, qkNorm: false }),
  tensorNames: llamaTensorNames,
} satisfies ArchitectureAdapter;
