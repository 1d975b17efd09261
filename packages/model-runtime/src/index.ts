export { architectureAdapters, parseModelConfig, resolveArchitectureAdapter, type SupportedArchitecture } from './architectures/index';
export type { ArchitectureAdapter, LayerTensorNames, ModelTensorNames } from './architectures/architecture-adapter';
export { defaultCacheDirectory } from './graph/graph-cache';
export { hookPlanKey, normalizeHookPlan, type HookPlan, type SteeringMode } from './hooks/hook-plan';
export type { EncodePromptOptions, LanguageModel, TextTokenizer } from './model/language-model';
export { loadModel, type LoadModelOptions } from './model/load-model';
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
export { createRandom, logSoftmax, sampleToken, type SamplingSettings } from './model/sampling';
export type { ExecutionProviderName } from './session/create-inference-session';
