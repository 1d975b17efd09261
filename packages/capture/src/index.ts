export type {
  CaptureProgressEvent,
  CaptureStage,
  CaptureStageSummary,
  ReplayFailure,
} from './capture/capture-progress-event';
export {
  type CaptureStorage,
  type CaptureStorageOptions,
  isPromptOutputComplete,
  resolveCaptureStorage,
  writePromptOutputs,
} from './capture/capture-storage';
export { type CaptureVariantOptions, type ChatTemplateUse, captureVariant } from './capture/capture-variant';
export {
  defaultMaxCaptureBytes,
  type ForwardCapture,
  type ForwardCaptureRequest,
  forwardCaptures,
} from './capture/forward-captures';
export { type ReplayVariantOptions, replayVariant } from './capture/replay-variant';
export { type RunCaptureOptions, type RunCaptureSummary, runCapture } from './capture/run-capture';
export {
  createProjectionBank,
  describeProjectionColumns,
  type ProjectionBank,
  type ProjectionBankPoint,
  type ProjectionBankSource,
  type ProjectionColumn,
  projectionColumnsKey,
  readProjectionBank,
} from './projection/projection-bank';
export {
  type ProjectionRecord,
  projectionFileFormat,
  projectionFormatVersion,
  projectionMeasure,
  readProjectionFile,
  writeProjectionFile,
} from './projection/projection-file';
export { isSafeFileName, type ParsePromptSetOptions, parsePromptSet } from './prompt-set/parse-prompt-set';
export type { PromptSet, PromptSetPrompt } from './prompt-set/prompt-set';
export {
  defaultPromptSetDirectories,
  limitPromptSet,
  type ResolvePromptSetOptions,
  readPromptSet,
  resolvePromptSet,
} from './prompt-set/read-prompt-set';
export { shardPromptSet } from './prompt-set/shard-prompt-set';
export {
  type CapturedResponse,
  capturedResponseFormat,
  capturedResponseFormatVersion,
  type GenerationSettings,
  readCapturedResponse,
  writeCapturedResponse,
} from './storage/captured-response';
export { type InferencePaths, inferencePaths } from './storage/inference-paths';
export {
  type CapturedFileState,
  inspectCapturedFile,
  readTokenIdTensor,
  sameTokenIds,
} from './storage/inspect-captured-file';
export { assertSameVariantSource } from './variants/assert-same-variant-source';
export { type LoadedVariantModel, loadVariantModel } from './variants/load-variant-model';
export { describeVariant, type LoadedVariant, type ModelVariant } from './variants/model-variant';
export { planVariantLoads, type VariantLoadPlan } from './variants/plan-variant-loads';
