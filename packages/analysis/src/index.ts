export {
  type CrossValidationOptions,
  type CrossValidationResult,
  crossValidateLogisticRegression,
} from './detection/cross-validate-logistic-regression';
export {
  type NestedCrossValidationInput,
  type NestedCrossValidationResult,
  runNestedCrossValidation,
} from './detection/nested-cross-validation';
export {
  type DetectionInput,
  type DetectionLayerResult,
  type DetectionOptions,
  type DetectionResult,
  type DetectionValidation,
  type GeneralizationResult,
  runDetection,
  type UnivariateDetection,
} from './detection/run-detection';
export {
  computeModelDiff,
  type ModelDiffEntry,
  type ModelDiffOptions,
  type ModelDiffPeak,
  type ModelDiffResult,
} from './diff/compute-model-diff';
export {
  computeRandomDirectionNull,
  type RandomDirectionNull,
  type RandomDirectionNullDraws,
} from './diff/random-direction-null';
export type {
  DetectionFeatures,
  DetectionFile,
  ModelDiffFile,
  PredictivityFile,
  ProjectionsFile,
  TokenViewFile,
  TokenViewPrompt,
  VectorConsistencyFile,
} from './experiment/analysis-files';
export { type AnalyzeExperimentOptions, analyzeExperiment } from './experiment/analyze-experiment';
export type { AnalysisSummary, ModelDiffHighlight } from './experiment/build-analysis-summary';
export {
  evaluateSuccessCriteria,
  type SuccessCriterionVerdict,
  summarizeTraits,
  type TraitModelDiff,
} from './experiment/evaluate-success-criteria';
export {
  type ExperimentVectorFile,
  type FindExperimentVectorsOptions,
  findExperimentVectors,
} from './experiment/find-experiment-vectors';
export { formatAnalysisSummary } from './experiment/format-analysis-summary';
export { listActivationFiles } from './experiment/list-activation-files';
export { readBestMethods } from './experiment/read-best-methods';
export { type PromptGroup, parsePromptGroups } from './experiment/read-prompt-groups';
export { parsePromptLabels, type ReadPromptLabelsOptions } from './experiment/read-prompt-labels';
export { type CosineCell, createCosineMatrixSpec } from './plots/cosine-matrix-spec';
export { createEffectSizeByLayerSpec, type EffectSizeByLayerPoint } from './plots/effect-size-by-layer-spec';
export { createEffectSizeHeatmapSpec, type EffectSizeCell } from './plots/effect-size-heatmap-spec';
export { createMetricByLayerSpec, type MetricByLayerPoint } from './plots/metric-by-layer-spec';
export { createPromptHeatmapSpec, type PromptHeatmapCell } from './plots/prompt-heatmap-spec';
export { renderPlot, renderPlotSvg, renderSvgToPng } from './plots/render-plot';
export { createRocCurveSpec } from './plots/roc-curve-spec';
export { createSteeringSweepSpec, type SteeringSweepPoint } from './plots/steering-sweep-spec';
export {
  createTrajectorySpec,
  type TrajectoryPoint,
  type TrajectorySpecOptions,
} from './plots/trajectory-spec';
export {
  computeVectorConsistency,
  type VectorConsistencyLayer,
} from './predictivity/compute-vector-consistency';
export {
  measurePredictivity,
  type PredictivityEntry,
  type PredictivitySet,
  type PredictivitySummary,
  summarizePredictivity,
} from './predictivity/measure-predictivity';
export {
  type ExploitAnnotations,
  parseExploitAnnotations,
  type TokenSpan,
} from './projections/exploit-annotations';
export {
  type ActivationFilePair,
  type ProjectActivationFilesOptions,
  type ProjectedActivations,
  projectActivationFiles,
  randomDirectionsApply,
  type TokenDeltaStatistics,
} from './projections/project-activation-files';
export {
  type ProjectionScratch,
  projectTokenActivations,
  type TokenProjections,
} from './projections/project-token-activations';
export type {
  ProjectionMeasure,
  ProjectionSettings,
  ResponseAggregation,
} from './projections/projection-settings';
export type { ProjectionTable } from './projections/projection-table';
export { createRandomDirections, type RandomDirections } from './projections/random-directions';
export type { ActivationTensors } from './projections/read-activation-tensors';
export { summarizeTokenProjections } from './projections/summarize-token-projections';
export {
  type BankVector,
  createVectorBank,
  type VectorBank,
  type VectorBankEntry,
  type VectorBankOptions,
} from './projections/vector-bank';
export { buildReportCharts, type ReportChart, type ReportSection } from './report/build-report-charts';
export {
  type ExtractionEvaluationSummary,
  type ExtractionMetricRow,
  parseExtractionEvaluation,
} from './report/read-extraction-evaluation';
export { type ReportInputs, readReportInputs } from './report/read-report-inputs';
export {
  parseSteeringResults,
  type SteeringSweep,
  type SteeringSweepRun,
} from './report/read-steering-results';
export { type WriteReportOptions, type WrittenReport, writeReport } from './report/write-report';
export { adjustPValuesBenjaminiHochberg, adjustPValuesHolm } from './stats/adjust-p-values';
export {
  type BootstrapOptions,
  type ConfidenceInterval,
  computeBootstrapConfidenceInterval,
} from './stats/bootstrap-confidence-interval';
export { computeCohensD, computePairedCohensD } from './stats/cohens-d';
export { adjustForBestOf, computeEmpiricalPValue } from './stats/empirical-p-value';
export type { FeatureMatrix } from './stats/feature-matrix';
export {
  chooseGroupedFolds,
  createGroupFolds,
  createStratifiedGroupFolds,
  type GroupedValidationScheme,
} from './stats/group-folds';
export { computeGroupedAurocInterval } from './stats/grouped-auroc-interval';
export {
  fitLogisticRegression,
  type LogisticRegressionModel,
  type LogisticRegressionOptions,
} from './stats/logistic-regression';
export { computeMeanConfidenceInterval, computeTQuantile } from './stats/mean-confidence-interval';
export { computePairedTTest } from './stats/paired-t-test';
export {
  type CorrelationResult,
  computePearsonCorrelation,
  computePointBiserialCorrelation,
} from './stats/pearson-correlation';
export {
  type PermutationTestOptions,
  type PermutationTestResult,
  runPermutationTest,
} from './stats/permutation-test';
export { computeQuantile } from './stats/quantile';
export { computeAuroc, computeRocCurve, type RocCurve } from './stats/roc-curve';
export { createSeededRandom, type SeededRandom } from './stats/seeded-random';
export { createStratifiedFolds } from './stats/stratified-folds';
export { computeWelchTTest, type TTestResult } from './stats/welch-t-test';
export {
  computeWilcoxonSignedRankTest,
  type WilcoxonSignedRankResult,
} from './stats/wilcoxon-signed-rank-test';
export { computeWithinGroupAuroc } from './stats/within-group-auroc';
