import type { ProjectionMetrics } from './projection-metrics';

/** One method's vector at one layer, judged on held-out data (cosine projections). */
export interface MethodEvaluation {
  /** Metrics on the validation split. */
  validation: ProjectionMetrics;
  /** Accuracy on the training split, with its own midpoint threshold. */
  trainAccuracy: number;
  /** trainAccuracy - validation.accuracy: how much the vector overfits. */
  accuracyDrop: number;
  /**
   * (validation accuracy + |d| / max |d| over this site's vectors) / 2, times 0 when the polarity is
   * wrong: the study's ranking score, used to pick `best`.
   */
  combinedScore: number;
  /** Classifier intercept (probe only). */
  bias?: number;
  /** Scalar projection of the midpoint of the training class means onto the unit vector: subtract it to centre projections. */
  baseline: number;
  /** Method diagnostics returned by `extract` (iterations, training accuracy, ...). */
  details: Record<string, number | string | boolean>;
}

export interface LayerEvaluation {
  /** Mean L2 norm of the window-averaged activations (all samples, both splits): scales steering coefficients. */
  activationNorm: number;
  methods: Record<string, MethodEvaluation>;
  /** Cosine between every pair of methods' vectors at this layer (symmetric, 1 on the diagonal). */
  methodCosines: Record<string, Record<string, number>>;
}

/** The best vector of a site by combined score. */
export interface BestVector {
  method: string;
  layer: number;
  combinedScore: number;
  validationAccuracy: number;
  cohensD: number | null;
  auroc: number | null;
}

export interface SiteEvaluation {
  /** Keyed by layer number (as a string: JSON keys). */
  layers: Record<string, LayerEvaluation>;
  best: BestVector | null;
}

/** Counts of the train/validation split. */
export interface SplitSummary {
  validationFraction: number;
  train: { positive: number; negative: number };
  validation: { positive: number; negative: number };
}

/** The whole of evaluation.json for one trait (documented field by field in docs/extraction.md). */
export interface TraitEvaluation {
  format: 'traitlens.extraction-evaluation';
  formatVersion: '1';
  /** `category/trait`. */
  trait: string;
  model: string;
  modelRevision?: string;
  tokenWindow: string;
  projection: 'cosine';
  layerConvention: string;
  datasetHash: string;
  traitlensVersion: string;
  createdAt: string;
  /** Stage key of the vectors and split evaluated; a rerun with the same key skips the evaluation. */
  key: string;
  split: SplitSummary;
  methods: string[];
  sites: Record<string, SiteEvaluation>;
  /** Human-readable problems found along the way (vetting pass rates, dropped samples, non-converged solvers). */
  warnings: string[];
}
