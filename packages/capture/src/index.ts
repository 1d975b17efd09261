export type {
  CaptureProgressEvent,
  CaptureStage,
  CaptureStageSummary,
  ReplayFailure,
} from './capture/capture-progress-event';
export type { CaptureStorageOptions } from './capture/capture-storage';
export { type CaptureVariantOptions, type ChatTemplateUse, captureVariant } from './capture/capture-variant';
export { type ReplayVariantOptions, replayVariant } from './capture/replay-variant';
export { type RunCaptureOptions, type RunCaptureSummary, runCapture } from './capture/run-capture';
export {
  createProjectionBank,
  type ProjectionBank,
  type ProjectionBankPoint,
  type ProjectionBankSource,
  type ProjectionColumn,
  readProjectionBank,
} from './projection/projection-bank';
export { type ProjectionRecord, readProjectionFile } from './projection/projection-file';
export { type ParsePromptSetOptions, parsePromptSet } from './prompt-set/parse-prompt-set';
export type { PromptSet, PromptSetPrompt } from './prompt-set/prompt-set';
export {
  limitPromptSet,
  type ResolvePromptSetOptions,
  readPromptSet,
  resolvePromptSet,
} from './prompt-set/read-prompt-set';
export { shardPromptSet } from './prompt-set/shard-prompt-set';
export type { CapturedResponse } from './storage/captured-response';
export { type LoadedVariantModel, loadVariantModel } from './variants/load-variant-model';
export type { LoadedVariant, ModelVariant } from './variants/model-variant';
export { planVariantLoads, type VariantLoadPlan } from './variants/plan-variant-loads';
