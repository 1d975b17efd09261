export { type ExperimentConfig, parseExperimentConfig, type RuntimeConfig } from './config/experiment-config';
export { type Experiment, type LoadExperimentOptions, loadExperiment } from './config/load-experiment';
export {
  analyzeDecompositionPairs,
  type DecompositionPair,
  type DecompositionPairResult,
  type DecompositionPairsOptions,
  type DecompositionSide,
} from './decomposition/analyze-decomposition-pairs';
export {
  type ModelDiffVectorsOptions,
  type ModelDiffVectorsResult,
  modelDiffVectorsPath,
  writeModelDiffVectors,
} from './diff/write-model-diff-vectors';
export { findKeywordSpans } from './labels/find-keyword-spans';
export { createGroupRubric } from './labels/group-rubric';
export {
  type LabelMethod,
  type LabelResponsesOptions,
  type LabelResponsesResult,
  type LabelSource,
  labelPaths,
  labelResponses,
} from './labels/label-responses';
export {
  type AnnotatedSpan,
  type PromptAnnotation,
  parseSpanAnnotations,
  readSpanAnnotations,
} from './labels/read-span-annotations';
export {
  createTinyOrganism,
  type TinyOrganism,
  type TinyOrganismSettings,
  tinyOrganismPaths,
} from './models/create-tiny-organism';
export { createLoraScaleView } from './models/lora-scale-view';
export {
  computeStageKey,
  type PipelineState,
  type StageRecord,
  type StudyStage,
  studyStages,
} from './pipeline/pipeline-state';
export { planStudyMemory, type StudyMemoryPlan } from './pipeline/plan-study-memory';
export {
  formatStudyStatus,
  readStudyStatus,
  type StageStatus,
  type StudyStatus,
} from './pipeline/read-study-status';
export { computeStudyStageKeys, type RunStudyOptions, runStudy, type StudyRun } from './pipeline/run-study';
export {
  type ContrastPredictivityLayer,
  type ContrastPredictivityOptions,
  measureContrastPredictivity,
} from './predictivity/measure-contrast-predictivity';
export { type ContrastItem, parseContrastSet, readContrastSet } from './predictivity/read-contrast-set';
export {
  type InterventionResponse,
  type InterventionResults,
  readInterventionResults,
} from './stages/intervene-stage';
