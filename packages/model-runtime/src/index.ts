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
export type { HubProgressEvent } from './hub/hub-progress-event';
export { defaultHubCacheDir, type HubOptions } from './hub/hub-settings';
export type { ModelSourceKind } from './hub/model-file-selection';
export { isCommitSha, type ModelSource, parseModelSource } from './hub/parse-model-source';
export {
  type ResolvedModelSource,
  type ResolveModelSourceOptions,
  resolveModelSource,
} from './hub/resolve-model-source';
export { type LoraAdapter, type LoraTarget, loadLoraAdapter } from './lora/load-lora-adapter';
export type { EncodePromptOptions, LanguageModel, TextTokenizer } from './model/language-model';
export { type LoadModelOptions, loadModel } from './model/load-model';
export { computeModelIdentity, type ModelIdentityOptions } from './model/model-identity';
export type {
  ChatMessage,
  ForwardOptions,
  ForwardRow,
  GenerateOptions,
  GenerationResult,
  ModelConfig,
  PromptInput,
  RopeScaling,
  ScoreOptions,
  SteeringSpec,
} from './model/model-types';
export { createRandom, logSoftmax, type SamplingSettings, sampleToken } from './model/sampling';
export { stripPadding } from './model/strip-padding';
export type { TransferCounts, TransferStats } from './model/transfer-stats';
export {
  assessMemoryFit,
  formatBytes,
  formatMemoryPlan,
  type MemoryPlanFit,
} from './plan/format-memory-plan';
export { type LoraPlan, parseAdapterConfigForPlan } from './plan/lora-plan';
export { type MatMulNBitsLayout, matMulNBitsBytes } from './plan/matmul-nbits-bytes';
export { parseByteSize } from './plan/parse-byte-size';
export type { ActivationMemory, MemoryPlanModelShape, MemoryPlanRow, WeightMemory } from './plan/plan-memory';
export {
  type MemoryPlan,
  type MemoryPlanOptions,
  type PlanFloatDtype,
  type PlanProvider,
  type PlanWeightDtype,
  planMemory,
  type SessionMemory,
} from './plan/plan-memory';
export {
  type PlanMemoryForSourceOptions,
  planMemoryForSource,
  type SourceMemoryPlan,
} from './plan/plan-memory-for-source';
export {
  dequantizeBlockwise,
  type QuantizationSettings,
  type QuantizedRows,
  quantizeBlockwise,
} from './quantization/quantize-blockwise';
export type { ExecutionProviderName, SessionOptions } from './session/create-inference-session';
export { type DeviceReport, probeDevice } from './session/probe-execution-provider';
export {
  type ProviderRejection,
  type ProviderRequirements,
  type ProviderSelection,
  selectExecutionProvider,
} from './session/select-execution-provider';
export { ChatTemplate, type RenderChatOptions, selectChatTemplateSource } from './tokenizer/chat-template';
export { encodePromptIds, type PromptTokenizer } from './tokenizer/encode-prompt-ids';
export { HuggingFaceTokenizer } from './tokenizer/hugging-face-tokenizer';
export { type LoadTokenizerOptions, loadTokenizer } from './tokenizer/load-tokenizer';
