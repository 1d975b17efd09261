export {
  evaluateSteering,
  type SteeringEvaluation,
  type SteeringEvaluationOptions,
} from './evaluate-steering';
export { measureResidualNorms, type ResidualNormOptions } from './evaluation/measure-residual-norms';
export {
  type SteeringProgressEvent,
  SteeringRunEvaluator,
  type SteeringRunEvaluatorOptions,
  type SteeringRunRequest,
} from './evaluation/steering-run-evaluator';
export { type CreatedJudge, type CreateJudgeOptions, createJudge } from './judges/create-judge';
export { JudgeCache } from './judges/judge-cache';
export {
  defaultJudgePromptTemplates,
  defaultResponseCharacterLimit,
  type JudgePromptTemplates,
  renderJudgePrompt,
} from './judges/judge-prompt-templates';
export { LexiconJudge, type LexiconJudgeOptions } from './judges/lexicon-judge';
export { LocalJudge, type LocalJudgeOptions } from './judges/local-judge';
export { OpenAiJudge, type OpenAiJudgeOptions, type OpenAiJudgeStatistics } from './judges/openai-judge';
export { type JudgeSpec, parseJudgeSpec } from './judges/parse-judge-spec';
export {
  RetriesExhaustedError,
  type RetryDecision,
  type RetryPolicy,
  retryWithBackoff,
} from './judges/retry-with-backoff';
export {
  numberProbabilitiesFromTopLogprobs,
  parseScoreFromText,
  parseScoreToken,
  scoreFromNumberProbabilities,
} from './judges/score-from-number-probabilities';
export { storyVocabulary, type TraitLexicon, tinyStoriesLexicons } from './judges/tinystories-lexicons';
export { formatSteeringSummary } from './results/format-steering-summary';
export {
  type LayerNormRecord,
  type RunInterventionRecord,
  type ScoredResponse,
  type ScoredResponsesFile,
  type SearchCandidateRecord,
  type SearchStepRecord,
  type SteeringContext,
  type SteeringResults,
  type SteeringRunRecord,
  type SteeringSearchRecord,
  steeringResponsesFormat,
  steeringResultsFormat,
  steeringResultsFormatVersion,
} from './results/steering-results';
export { SteeringResultsStore } from './results/steering-results-store';
export {
  assertSearchSettings,
  type CandidateSearch,
  type CoefficientSearchSettings,
  defaultCoefficientSearchSettings,
  type SearchCandidate,
  type SearchStep,
  type StepOutcome,
  searchCoefficients,
  selectBestStep,
  startingCoefficient,
} from './search/coefficient-search';
export {
  combineLayerSteering,
  type LayerBest,
  type MultiLayerCombination,
} from './search/multi-layer-steering';
export { buildSteeringSpecs } from './steered-generation/build-steering-specs';
export { generateSteered, type SteeredGenerationRequest } from './steered-generation/generate-steered';
export type {
  SteeringConfiguration,
  SteeringIntervention,
} from './steered-generation/steering-configuration';
export { loadSteeringTrait, type SteeringTrait } from './trait/load-steering-trait';
