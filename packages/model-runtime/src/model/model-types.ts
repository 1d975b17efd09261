import type { HookPoint, SteeringSpec } from '@traitlens/core';

export type { SteeringSpec } from '@traitlens/core';

/** The parts of a Hugging Face config.json traitlens uses, normalised across architectures. */
export interface ModelConfig {
  /** HF `architectures[0]`, e.g. `LlamaForCausalLM`. */
  architecture: string;
  /** HF `model_type`, e.g. `llama`. */
  modelType: string;
  hiddenSize: number;
  intermediateSize: number;
  layerCount: number;
  headCount: number;
  kvHeadCount: number;
  headDim: number;
  vocabSize: number;
  rmsNormEps: number;
  ropeTheta: number;
  ropeScaling: RopeScaling | undefined;
  maxPositionEmbeddings: number;
  tieWordEmbeddings: boolean;
  /** Qwen2: biases on q/k/v projections. */
  attentionBias: boolean;
  /** Qwen3: RMSNorm on q and k per head before rotary. */
  qkNorm: boolean;
  bosTokenId: number | undefined;
  eosTokenIds: number[];
  padTokenId: number | undefined;
  /**
   * Sliding attention window (Mistral v0.1: 4096), when the model uses one. The runtime attends over the
   * full context, which equals the model's computation only up to this many tokens; longer sequences are
   * refused.
   */
  slidingWindow: number | undefined;
}

export type RopeScaling =
  | {
      type: 'llama3';
      factor: number;
      lowFreqFactor: number;
      highFreqFactor: number;
      originalMaxPositionEmbeddings: number;
    }
  | { type: 'linear'; factor: number };

/** A chat message for `applyChatTemplate`. */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | (string & {});
  content: string;
}

export interface ForwardOptions {
  /** Hook points to capture; only these are copied out of the graph. */
  capture?: readonly HookPoint[];
  steer?: readonly SteeringSpec[];
  /** Which logits to return: every position (default), only each row's last, or none. */
  logits?: 'all' | 'last' | 'none';
  /** With a switchable LoRA: 1 = adapted (default), 0 = clean base model; one number or one per row. */
  loraScale?: number | readonly number[] | undefined;
  /**
   * In-graph projections: activations at `point` times each vector (raw dot products h.v; divide by |v|
   * or |h| yourself for scalar or cosine projections). Only the [n_tokens, K] result is copied out.
   */
  project?: ReadonlyArray<{ point: HookPoint; vectors: readonly Float32Array[] }>;
}

/** `score` options: steering and the LoRA scale apply as in `forward`. */
export type ScoreOptions = Pick<ForwardOptions, 'steer' | 'loraScale'>;

/** One row of a forward pass, padding removed. */
export interface ForwardRow {
  tokenIds: number[];
  /** [n_tokens, vocab] for `all`, [vocab] for `last`, empty for `none`. */
  logits: Float32Array;
  /** `{site}.{layer}` -> [n_tokens, hidden] row-major. */
  captures: Map<string, Float32Array>;
  /** `{site}.{layer}` -> [n_tokens, K] dot products with the projection bank, when asked. */
  projections?: Map<string, Float32Array>;
  /** `{site}.{layer}` -> [n_tokens] activation norms |h| at each projected point (for cosines). */
  activationNorms?: Map<string, Float32Array>;
}

export interface GenerateOptions {
  maxNewTokens?: number;
  /** 0 (default) is greedy. */
  temperature?: number;
  topK?: number | undefined;
  topP?: number | undefined;
  seed?: number;
  /** Token ids that end a row (default: the model's eos ids). */
  stopTokenIds?: readonly number[];
  /** Strings that end a row when the decoded response contains them (trimmed from the text). */
  stopStrings?: readonly string[];
  /** Record the chosen token's log-probability at each step. */
  logprobs?: boolean;
  steer?: readonly SteeringSpec[];
  /** With a switchable LoRA: 1 = adapted (default), 0 = clean base model; one number or one per row. */
  loraScale?: number | readonly number[] | undefined;
  /**
   * Called after each decoding step with the new token of every still-running row; `text` is what the
   * token adds to the response text in context (concatenated, the pieces give the response text).
   */
  onToken?: (event: { row: number; tokenId: number; text: string; step: number }) => void;
}

export interface GenerationResult {
  promptTokenIds: number[];
  responseTokenIds: number[];
  promptTokens: string[];
  responseTokens: string[];
  promptText: string;
  responseText: string;
  /** Log-probability of each response token under the (steered, tempered) distribution, when asked. */
  tokenLogprobs?: number[];
  finishReason: 'stop_token' | 'stop_string' | 'length';
}

/** What a prompt is: raw text, token ids, or chat messages (rendered with the chat template). */
export type PromptInput = string | readonly number[] | readonly ChatMessage[];
