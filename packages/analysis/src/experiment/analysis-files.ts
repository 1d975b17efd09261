import type { ActivationPart } from '@traitlens/core';
import type { DetectionResult } from '../detection/run-detection';
import type { ModelDiffResult } from '../diff/compute-model-diff';
import type { VectorConsistencyLayer } from '../predictivity/compute-vector-consistency';
import type { PredictivitySet, PredictivitySummary } from '../predictivity/measure-predictivity';
import type { TokenDeltaStatistics } from '../projections/project-activation-files';
import type { ProjectionMeasure } from '../projections/projection-settings';

/** Which per-response values the detector and predictivity read: A's projections, B's, or B - A. */
export type DetectionFeatures = 'a' | 'b' | 'difference';

/**
 * The JSON files `traitlens analyze` writes under `analysis/` (docs/analysis.md documents each field).
 * In the files, numbers that are undefined for the data (NaN, Infinity) are written as null.
 */

/** analysis/projections.json: per-response projections, `values.<a|b>[vector][layer][prompt]`. */
export interface ProjectionsFile {
  format: 'traitlens.analysis.projections';
  formatVersion: string;
  measure: ProjectionMeasure;
  centred: boolean;
  aggregation: string;
  part: ActivationPart;
  promptIds: string[];
  layers: number[];
  vectorIds: string[];
  tokenCounts: { a: number[]; b?: number[] };
  paired: number[] | null;
  values: { a: (number | null)[][][]; b?: (number | null)[][][] };
}

/** analysis/model-diff.json. */
export interface ModelDiffFile {
  format: 'traitlens.analysis.model-diff';
  formatVersion: string;
  variants: { a: string; b: string };
  measure: ProjectionMeasure;
  aggregation: string;
  trainGroups: number[] | null;
  subsets: ModelDiffResult[];
  tokenLevel: TokenDeltaStatistics[];
}

/** analysis/detection.json. */
export interface DetectionFile extends DetectionResult {
  format: 'traitlens.analysis.detection';
  formatVersion: string;
  features: DetectionFeatures;
  variant: string;
}

/** analysis/predictivity.json. */
export interface PredictivityFile {
  format: 'traitlens.analysis.predictivity';
  formatVersion: string;
  measure: ProjectionMeasure;
  aggregation: string;
  features: DetectionFeatures;
  sets: PredictivitySet[];
  summary: PredictivitySummary[];
}

/** analysis/vector-consistency.json. */
export interface VectorConsistencyFile {
  format: 'traitlens.analysis.vector-consistency';
  formatVersion: string;
  layers: VectorConsistencyLayer[];
}

/** One prompt of analysis/token-view.json; `a`/`b` are `[layer][vector][token]`. */
export interface TokenViewPrompt {
  promptId: string;
  promptText: string | null;
  label: number | null;
  group: number | null;
  exploitSpans: [number, number][];
  paired: boolean | null;
  tokens: string[];
  a: number[][][];
  b: number[][][] | null;
}

/** analysis/token-view.json. */
export interface TokenViewFile {
  format: 'traitlens.analysis.token-view';
  formatVersion: string;
  measure: ProjectionMeasure;
  centred: boolean;
  part: ActivationPart;
  layers: number[];
  vectorIds: string[];
  prompts: TokenViewPrompt[];
}
