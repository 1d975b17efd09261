import type {
  ChatMessage,
  ForwardOptions,
  ForwardRow,
  GenerateOptions,
  GenerationResult,
  ModelConfig,
  PromptInput,
  ScoreOptions,
} from './model-types';
import type { TransferStats } from './transfer-stats';

/** Text <-> token ids for one model. */
export interface TextTokenizer {
  encode(text: string, options?: { addSpecialTokens?: boolean }): number[];
  decode(ids: readonly number[], options?: { skipSpecialTokens?: boolean }): string;
  /** The text each token contributes when decoded in context (for per-token views). */
  tokenStrings(ids: readonly number[]): string[];
  readonly bosTokenId: number | undefined;
  readonly eosTokenIds: readonly number[];
  readonly vocabSize: number;
  readonly hasChatTemplate: boolean;
}

export interface EncodePromptOptions {
  /** For chat messages: end with the assistant turn opener (default true). */
  addGenerationPrompt?: boolean;
}

/**
 * A loaded model. Every method takes a batch; rows may have different lengths and padding is handled
 * inside (results come back unpadded).
 */
export interface LanguageModel {
  /** `hf:org/name@sha` or the local directory it was loaded from. */
  readonly id: string;
  readonly config: ModelConfig;
  readonly tokenizer: TextTokenizer;
  /**
   * Token ids for a prompt: text gets the tokenizer's special tokens (BOS) unless it already starts
   * with one; chat messages are rendered with the chat template and never get a second BOS.
   */
  encodePrompt(prompt: PromptInput, options?: EncodePromptOptions): number[];
  applyChatTemplate(messages: readonly ChatMessage[], options?: { addGenerationPrompt?: boolean }): string;
  forward(inputs: PromptInput | readonly PromptInput[], options?: ForwardOptions): Promise<ForwardRow[]>;
  /** Log-softmax over the vocabulary of the next token after each input. */
  score(inputs: PromptInput | readonly PromptInput[], options?: ScoreOptions): Promise<Float32Array[]>;
  generate(
    prompts: PromptInput | readonly PromptInput[],
    options?: GenerateOptions,
  ): Promise<GenerationResult[]>;
  /**
   * Host <-> device bytes of the runs so far, prefill and decode steps apart (models loaded with
   * `loadModel` always have it; test doubles may not).
   */
  transferStats?(): TransferStats;
  /** Zeroes the counts `transferStats` reports (e.g. after a warm-up). */
  resetTransferStats?(): void;
  dispose(): Promise<void>;
}
