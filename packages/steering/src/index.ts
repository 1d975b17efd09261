export {
  evaluateSteering,
  type SteeringEvaluation,
  type SteeringEvaluationOptions,
} from './evaluate-steering';
export type { SteeringProgressEvent } from './evaluation/steering-run-evaluator';
export { type CreatedJudge, type CreateJudgeOptions, createJudge } from './judges/create-judge';
export { defaultJudgePromptTemplates, type JudgePromptTemplates } from './judges/judge-prompt-templates';
export { LexiconJudge, type LexiconJudgeOptions } from './judges/lexicon-judge';
export { LocalJudge, type LocalJudgeOptions } from './judges/local-judge';
export { OpenAiJudge, type OpenAiJudgeOptions, type OpenAiJudgeStatistics } from './judges/openai-judge';
export type { JudgeSpec } from './judges/parse-judge-spec';
export type { RetryPolicy } from './judges/retry-with-backoff';
export type { TraitLexicon } from './judges/tinystories-lexicons';
export { formatSteeringSummary } from './results/format-steering-summary';
export type {
  LayerNormRecord,
  RunInterventionRecord,
  SearchCandidateRecord,
  SearchStepRecord,
  SteeringContext,
  SteeringResults,
  SteeringRunRecord,
  SteeringSearchRecord,
} from './results/steering-results';
export {
  type CandidateSearch,
  type CoefficientSearchSettings,
  type SearchCandidate,
  type SearchStep,
  type StepOutcome,
  searchCoefficients,
} from './search/coefficient-search';
export { type BatchedSteeringSpec, buildSteeringSpecs } from './steered-generation/build-steering-specs';
export { generateSteered, type SteeredGenerationRequest } from './steered-generation/generate-steered';
export type { SteeringConfiguration } from './steered-generation/steering-configuration';
export { loadSteeringTrait, type SteeringTrait } from './trait/load-steering-trait';
