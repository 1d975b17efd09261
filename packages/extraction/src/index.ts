export { computeDatasetHash, normalizeDatasetText } from './dataset/compute-dataset-hash';
export { type DatasetIssue, type DatasetIssueCode, formatDatasetIssue } from './dataset/dataset-issue';
export { findTraitDatasets } from './dataset/find-trait-datasets';
export { type LoadTraitDatasetOptions, loadTraitDataset } from './dataset/load-trait-dataset';
export { type ParsedRubric, parseRubric } from './dataset/parse-rubric';
export type {
  TraitDataset,
  TraitDatasetVariant,
  TraitPrompt,
  TraitRubric,
  TraitSteeringQuestions,
} from './dataset/trait-dataset';
export {
  isBlockingDatasetIssue,
  type TraitDatasetValidation,
  type ValidateTraitDatasetOptions,
  validateTraitDataset,
} from './dataset/validate-trait-dataset';
export { computeCosineProjections } from './evaluation/cosine-projections';
export {
  computeProjectionBaseline,
  evaluateLayer,
  type LayerActivationSplit,
  type LayerVector,
} from './evaluation/evaluate-layer';
export { computeProjectionMetrics, type ProjectionMetrics } from './evaluation/projection-metrics';
export { scoreSiteEvaluation } from './evaluation/score-site-evaluation';
export type {
  BestVector,
  LayerEvaluation,
  MethodEvaluation,
  SiteEvaluation,
  SplitSummary,
  TraitEvaluation,
} from './evaluation/trait-evaluation';
export {
  computeLlamaCppDirectionIndex,
  decodeGgufControlVector,
  encodeGgufControlVector,
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
export { caaMethod } from './methods/caa';
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
export { runExtractionMethod } from './methods/run-extraction-method';
export { createSharedComputations, type SharedComputations } from './methods/shared-computations';
export { computeGramMatrix } from './numeric/gram-matrix';
export {
  computeColumnMeans,
  computeRowNorms,
  createMatrix,
  createMatrixFromRows,
  getMatrixRow,
  type Matrix,
  selectMatrixRows,
} from './numeric/matrix';
export { windowActivationsPath } from './pipeline/capture-window-activations';
export {
  type ExtractedVectors,
  type PlannedMethod,
  type VectorProvenance,
  vectorFilePath,
} from './pipeline/extract-vector-files';
export {
  type ExtractionProgressEvent,
  type ExtractionStage,
  extractionStages,
  type TraitPolarity,
} from './pipeline/extraction-progress';
export { defaultGenerationSettings, type GenerationSettings } from './pipeline/generate-responses';
export type { ResponseRecord } from './pipeline/response-record';
export {
  runTraitExtraction,
  type TraitExtractionOptions,
  type TraitExtractionResult,
} from './pipeline/run-trait-extraction';
export { type ClassSplit, splitTrainValidation } from './pipeline/split-train-validation';
export {
  type ExtractionSummary,
  summarizeExtraction,
  summarizeExtractionIfComplete,
} from './pipeline/summarize-extraction';
export {
  formatTokenWindowSlug,
  parseTokenWindow,
  resolveTokenWindow,
  type TokenWindow,
} from './pipeline/token-window';
export {
  defaultVettingThresholds,
  type VettingSummary,
  type VettingThresholds,
} from './pipeline/vet-with-judge';
export {
  type ActivationRowSource,
  type ClassWindowActivations,
  readWindowActivations,
  type WindowActivations,
} from './pipeline/window-activations';
export { traitlensVersion } from './traitlens-version';
