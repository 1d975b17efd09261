export type {
  ArchitectureAdapter,
  LayerTensorNames,
  ModelTensorNames,
} from './architectures/architecture-adapter';
export { architectureAdapters, type SupportedArchitecture } from './architectures/index';
export type { HookPlan, SteeringMode } from './hooks/hook-plan';
export type { HubProgressEvent } from './hub/hub-progress-event';
export type { HubOptions } from './hub/hub-settings';
export type { ModelSourceKind } from './hub/model-file-selection';
export type { ModelSource } from './hub/parse-model-source';
export {
  type ResolvedModelSource,
  type ResolveModelSourceOptions,
  resolveModelSource,
} from './hub/resolve-model-source';
export type { LoraAdapter, LoraTarget } from './lora/load-lora-adapter';
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
export type { SamplingSettings } from './model/sampling';
export { stripPadding } from './model/strip-padding';
export type { TransferCounts, TransferStats } from './model/transfer-stats';
export { formatMemoryPlan, type MemoryPlanFit } from './plan/format-memory-plan';
export type { LoraPlan } from './plan/lora-plan';
export type { MatMulNBitsLayout } from './plan/matmul-nbits-bytes';
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
export type { QuantizationSettings, QuantizedRows } from './quantization/quantize-blockwise';
export type { ExecutionProviderName, SessionOptions } from './session/create-inference-session';
export { type DeviceReport, probeDevice } from './session/probe-execution-provider';
export {
  type ProviderRejection,
  type ProviderRequirements,
  type ProviderSelection,
  selectExecutionProvider,
} from './session/select-execution-provider';
export type { RenderChatOptions } from './tokenizer/chat-template';
export type { PromptTokenizer } from './tokenizer/encode-prompt-ids';
export type { LoadTokenizerOptions } from './tokenizer/load-tokenizer';
