import type { HookSite, SteeringMode, SteeringPositions } from '@traitlens/core';

/**
 * The schema of `steering/<trait>/results.json` and `steering/<trait>/responses/<run id>.json`
 * (documented in docs/steering.md). Version 1.
 */
export const steeringResultsFormat = 'traitlens.steering-results';
export const steeringResponsesFormat = 'traitlens.steering-responses';
export const steeringResultsFormatVersion = 1;

/**
 * Everything that makes two runs comparable. A results.json belongs to one context; resuming with a
 * different one is refused instead of mixing incomparable numbers.
 */
export interface SteeringContext {
  trait: string;
  /** Model id (`hf:org/name@sha` or a folder). */
  model: string;
  /**
   * The model by content (`hf:org/name@<commit>` or `sha256:...`, see computeModelIdentity): when both
   * sides have it, resuming compares it instead of `model`, so shards that load the model from different
   * folders share one results folder.
   */
  modelIdentity?: string;
  vectors: {
    /** SHA-256 over the site and every layer's vector bytes. */
    hash: string;
    site: HookSite;
    method: string;
    /** The model the vectors were extracted from (may differ from the steered model: base vs instruct). */
    sourceModel: string;
  };
  judge: string;
  /** SHA-256 of the questions actually used, and how many. */
  questions: { count: number; hash: string };
  /** SHA-256 of definition.txt and eval_prompt (the judge's trait prompt). */
  rubricHash: string;
  promptFormat: 'chat' | 'raw';
  generation: { maxNewTokens: number; temperature: number; seed: number };
  /** Whether an off-topic answer (relevance < threshold) caps coherence at 50. */
  relevanceCap: { enabled: boolean; threshold: number };
}

export interface RunInterventionRecord {
  layer: number;
  site: HookSite;
  coefficient: number;
  /** Which vector: `layer.{L}` from the vector file, or `orthogonal.{L}` after orthogonalisation. */
  vector: string;
  vectorNorm: number;
  /** |coefficient| * |v| / mean |h| at the layer: ~1.0-1.15 is where coherence usually breaks. */
  perturbationRatio: number | null;
}

export interface SteeringRunRecord {
  /** Readable and unique, also the responses file name. */
  id: string;
  /** SHA-256 of the configuration; identical configurations are evaluated once. */
  key: string;
  kind: 'baseline' | 'layer' | 'multi-layer';
  interventions: RunInterventionRecord[];
  mode: SteeringMode;
  positions: SteeringPositions;
  /** Means over the responses the judge could score (nulls left out). */
  traitMean: number | null;
  coherenceMean: number | null;
  relevanceMean: number | null;
  /** Responses generated (= questions). */
  n: number;
  traitScored: number;
  coherenceScored: number;
  /** Responses whose coherence the relevance check capped at 50. */
  offTopic: number;
  /** Path of the scored responses, relative to results.json. */
  responses: string;
  createdAt: string;
}

export interface ScoredResponse {
  questionIndex: number;
  question: string;
  response: string;
  finishReason: 'stop_token' | 'stop_string' | 'length';
  responseTokenCount: number;
  trait: number | null;
  /** After the relevance cap. */
  coherence: number | null;
  /** The judge's coherence before the relevance cap. */
  coherenceUncapped: number | null;
  relevance: number | null;
}

export interface ScoredResponsesFile {
  format: typeof steeringResponsesFormat;
  formatVersion: number;
  runId: string;
  key: string;
  trait: string;
  judge: string;
  interventions: RunInterventionRecord[];
  mode: SteeringMode;
  positions: SteeringPositions;
  responses: ScoredResponse[];
}

export interface SearchStepRecord {
  step: number;
  coefficient: number;
  runId: string;
  traitMean: number | null;
  coherenceMean: number | null;
  coherent: boolean;
  /** Adaptive search only: the multiplier chosen and the factor applied (momentum-smoothed). */
  multiplier?: number;
  velocity?: number;
}

export interface SearchCandidateRecord {
  /** `L{layer}` or `multi-layer.{strategy}`. */
  id: string;
  layers: number[];
  /** Adaptive search of a layer: mean residual norm / |v|. */
  baseCoefficient?: number;
  steps: SearchStepRecord[];
  best: SearchStepRecord | null;
  /** best trait mean - baseline trait mean. */
  traitDelta: number | null;
}

export interface SteeringSearchRecord {
  /** SHA-256 of kind + settings; re-running the same search replaces its record. */
  id: string;
  kind: 'adaptive' | 'grid' | 'multi-layer';
  settings: Record<string, unknown>;
  candidates: SearchCandidateRecord[];
  updatedAt: string;
}

export interface LayerNormRecord {
  /** Mean L2 norm of the residual stream at the vectors' site over the steering questions (BOS excluded). */
  meanResidualNorm: number;
  vectorNorm: number;
  /** meanResidualNorm / vectorNorm. */
  baseCoefficient: number;
}

export interface SteeringResults {
  format: typeof steeringResultsFormat;
  formatVersion: number;
  context: SteeringContext;
  baseline: { runId: string; traitMean: number | null; coherenceMean: number | null } | null;
  /** By layer number. */
  layers: Record<string, LayerNormRecord>;
  runs: SteeringRunRecord[];
  searches: SteeringSearchRecord[];
  updatedAt: string;
}
