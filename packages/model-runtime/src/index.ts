export { architectureAdapters, type SupportedArchitecture } from './architectures/index';
export type { SteeringMode } from './hooks/hook-plan';
export type { HubProgressEvent } from './hub/hub-progress-event';
export type { HubOptions } from './hub/hub-settings';
export type { ModelSourceKind } from './hub/model-file-selection';
export type { ModelSource } from './hub/parse-model-source';
export {
  type ResolvedModelSource,
  type ResolveModelSourceOptions,
  resolveModelSource,
} from './hub/resolve-model-source';
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
export { stripPadding } from './model/strip-padding';
export type { TransferCounts, TransferStats } from './model/transfer-stats';
export { formatMemoryPlan } from './plan/format-memory-plan';
export type { LoraPlan } from './plan/lora-plan';
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
export type { ExecutionProviderName } from './session/create-inference-session';
export { type DeviceReport, probeDevice } from './session/probe-execution-provider';
export {
  type ProviderRejection,
  type ProviderRequirements,
  type ProviderSelection,
  selectExecutionProvider,
} from './session/select-execution-provider';
