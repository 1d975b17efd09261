import type { ModelConfig } from '../model/model-types';

/** Tensor names of one decoder layer in the checkpoint. */
export interface LayerTensorNames {
  inputNorm: string;
  postAttentionNorm: string;
  q: string;
  k: string;
  v: string;
  o: string;
  qBias?: string;
  kBias?: string;
  vBias?: string;
  qNorm?: string;
  kNorm?: string;
  gate: string;
  up: string;
  down: string;
}

export interface ModelTensorNames {
  embedding: string;
  finalNorm: string;
  /** undefined when the output projection is tied to the embedding. */
  lmHead: string | undefined;
  layer(index: number): LayerTensorNames;
}

/**
 * Everything that differs between Llama-family architectures. The graph builder reads only this, so
 * adding an architecture is one file + one line in architectures/index.ts + a parity test.
 */
export interface ArchitectureAdapter {
  /** HF `config.architectures[0]`. */
  readonly architecture: string;
  /** Normalises config.json (already checked to be an object) into a ModelConfig. */
  parseConfig(json: Record<string, unknown>, source: string): ModelConfig;
  tensorNames(config: ModelConfig): ModelTensorNames;
}
