export type {
  ArchitectureAdapter,
  LayerTensorNames,
  ModelTensorNames,
} from './architectures/architecture-adapter';
export {
  architectureAdapters,
  parseModelConfig,
  resolveArchitectureAdapter,
  type SupportedArchitecture,
} from './architectures/index';
export { defaultCacheDirectory } from './graph/graph-cache';
export { type HookPlan, hookPlanKey, normalizeHookPlan, type SteeringMode } from './hooks/hook-plan';
export type { EncodePromptOptions, LanguageModel, TextTokenizer } from './model/language-model';
export { type LoadModelOptions, loadModel } from './model/load-model';
export type {
  ChatMessage,
  ForwardOptions,
  ForwardRow,
  GenerateOptions,
  GenerationResult,
  ModelConfig,
  PromptInput,
  RopeScaling,
  SteeringSpec,
} from './model/model-types';
export { createRandom, logSoftmax, type SamplingSettings, sampleToken } from './model/sampling';
export type { ExecutionProviderName } from './session/create-inference-session';
export { ChatTemplate, type RenderChatOptions, selectChatTemplateSource } from './tokenizer/chat-template';
export { encodePromptIds, type PromptTokenizer } from './tokenizer/encode-prompt-ids';
export { HuggingFaceTokenizer } from './tokenizer/hugging-face-tokenizer';
export { type LoadTokenizerOptions, loadTokenizer } from './tokenizer/load-tokenizer';
