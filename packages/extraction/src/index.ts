export type { DatasetIssue, DatasetIssueCode } from './dataset/dataset-issue';
export { findTraitDatasets } from './dataset/find-trait-datasets';
export { type LoadTraitDatasetOptions, loadTraitDataset } from './dataset/load-trait-dataset';
export type {
  TraitDataset,
  TraitDatasetVariant,
  TraitPrompt,
  TraitRubric,
  TraitSteeringQuestions,
} from './dataset/trait-dataset';
export {
  type TraitDatasetValidation,
  type ValidateTraitDatasetOptions,
  validateTraitDataset,
} from './dataset/validate-trait-dataset';
export { evaluateLayer, type LayerActivationSplit, type LayerVector } from './evaluation/evaluate-layer';
export { computeProjectionMetrics, type ProjectionMetrics } from './evaluation/projection-metrics';
export type {
  BestVector,
  LayerEvaluation,
  MethodEvaluation,
  SiteEvaluation,
  SplitSummary,
  TraitEvaluation,
} from './evaluation/trait-evaluation';
export {
  type GgufControlVector,
  type GgufControlVectorInput,
  readGgufControlVector,
  writeGgufControlVector,
} from './gguf/gguf-control-vector';
export {
  encodeGguf,
  encodeGgufHeader,
  type GgufFile,
  type GgufHeader,
  type GgufTensor,
  type GgufTensorInfo,
  type GgufValue,
  parseGguf,
} from './gguf/gguf-file';
export {
  type AnyExtractionMethod,
  defineExtractionMethod,
  type ExtractionMethod,
  type ExtractionMethodResult,
} from './methods/extraction-method';
export { type GradientOptions, gradientMethod } from './methods/gradient';
export {
  createMethodRegistry,
  defaultExtractionMethodIds,
  type ExtractionMethodId,
  type ExtractionMethodOptions,
  type ExtractionMethodRegistry,
  extractionMethods,
  resolveExtractionMethods,
} from './methods/index';
export { meanDiffMethod } from './methods/mean-diff';
export { type PcaDiffOptions, pcaDiffMethod } from './methods/pca-diff';
export { type ProbeOptions, probeMethod } from './methods/probe';
export { type RandomBaselineOptions, randomBaselineMethod } from './methods/random-baseline';
export { type RunExtractionMethodOptions, runExtractionMethod } from './methods/run-extraction-method';
export type { SharedComputations } from './methods/shared-computations';
export type { Matrix } from './numeric/matrix';
export type { ExtractionProgressEvent, ExtractionStage } from './pipeline/extraction-progress';
export type { GenerationSettings } from './pipeline/generate-responses';
export {
  runTraitExtraction,
  type TraitExtractionOptions,
  type TraitExtractionResult,
} from './pipeline/run-trait-extraction';
export {
  type ExtractionSummary,
  summarizeExtraction,
  summarizeExtractionIfComplete,
} from './pipeline/summarize-extraction';
export type { VettingThresholds } from './pipeline/vet-with-judge';
export {
  type ActivationRowSource,
  type ClassWindowActivations,
  readWindowActivations,
  type WindowActivations,
} from './pipeline/window-activations';
export { traitlensVersion } from './traitlens-version';
