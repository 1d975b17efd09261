import type { MemoryPlanModelShape } from '../plan-memory';

/** Llama-3.1-70B / Llama-3.3-70B config.json. */
export const llama70b: MemoryPlanModelShape = {
  architecture: 'LlamaForCausalLM',
  hiddenSize: 8192,
  intermediateSize: 28672,
  layerCount: 80,
  headCount: 64,
  kvHeadCount: 8,
  headDim: 128,
  vocabSize: 128256,
  tieWordEmbeddings: false,
  attentionBias: false,
  qkNorm: false,
};

/** ../shared/models/stories260k/hf/config.json */
export const stories260k: MemoryPlanModelShape = {
  architecture: 'LlamaForCausalLM',
  hiddenSize: 64,
  intermediateSize: 172,
  layerCount: 5,
  headCount: 8,
  kvHeadCount: 4,
  headDim: 8,
  vocabSize: 512,
  tieWordEmbeddings: true,
  attentionBias: false,
  qkNorm: false,
};
