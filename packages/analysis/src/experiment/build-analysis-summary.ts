import type { ActivationPart } from '@traitlens/core';
import type { DetectionResult } from '../detection/run-detection';
import type { ModelDiffResult } from '../diff/compute-model-diff';
import type { RandomDirectionNull } from '../diff/random-direction-null';
import type { ProjectedActivations } from '../projections/project-activation-files';
import {
  formatResponseAggregation,
  type ProjectionMeasure,
  type ProjectionSettings,
} from '../projections/projection-settings';
import type { VectorBank } from '../projections/vector-bank';
import type { DetectionFeatures } from './analysis-files';
import { analysisFormatVersion } from './analysis-format-version';
import {
  evaluateSuccessCriteria,
  type SuccessCriterionVerdict,
  summarizeTraits,
  type TraitModelDiff,
} from './evaluate-success-criteria';
import type { ExperimentPrompts } from './experiment-prompts';
import type { PromptLabelling } from './load-prompt-labelling';

export interface AnalysisSummary {
  format: 'traitlens.analysis';
  formatVersion: string;
  createdAt: string;
  variants: { a: string; b: string | null };
  promptSets: string[];
  prompts: {
    analysed: number;
    paired: number;
    onlyInA: number;
    onlyInB: number;
    labelled: number;
    positives: number;
    annotated: number;
    grouped: number;
  };
  projection: {
    site: string;
    measure: ProjectionMeasure;
    centred: boolean;
    aggregation: string;
    part: ActivationPart;
    layers: number[];
    hiddenSize: number;
    /** What was read: activation files, or capture's projection files. */
    source: 'activations' | 'projections';
  };
  vectors: {
    id: string;
    trait: string;
    method: string;
    category: string | null;
    source: string | null;
    isRandomBaseline: boolean;
  }[];
  detectionFeatures: DetectionFeatures | null;
  files: Record<string, string>;
  /** How conclusions were drawn: the significance level, the multiple-comparison family, the random null. */
  statistics: {
    alpha: number;
    familySize: number | null;
    randomNull: RandomDirectionNull | null;
  };
  highlights: {
    /** Findings only: survive Holm at alpha AND beat the random-direction null; strongest first. */
    modelDiff: ModelDiffHighlight[];
    /** Every other trait vector, with the reason it is not distinguishable from chance. */
    notDistinguishable: ModelDiffHighlight[];
    /** Per trait: its strongest vector and whether it is a finding. */
    traits: TraitModelDiff[];
    detection: {
      layer: number;
      /** Nested (layer chosen inside the training folds), grouped where prompts carry groups. */
      cvAuroc: number;
      cvAurocInterval: [number, number];
      cvAccuracy: number;
      majorityRate: number;
      validation: string;
      randomCvAuroc: number;
      permutationP: number | null;
      permutationScheme: string | null;
      heldOutAuroc: number | null;
      heldOutAurocInterval: [number, number] | null;
    } | null;
  };
  /** The study's success criteria, pass/fail with the numbers behind each. */
  verdict: SuccessCriterionVerdict[];
  elapsedSeconds: number;
}

export interface ModelDiffHighlight {
  vectorId: string;
  trait: string;
  method: string;
  peakLayer: number;
  cohensD: number;
  pairedD: number;
  /** Primary effect size (pairedD for paired designs, else cohensD). */
  effectSize: number;
  primaryTest: 'paired-t' | 'welch';
  /** Primary p (paired t where paired), unadjusted. */
  p: number;
  pHolm: number;
  pBenjaminiHochberg: number;
  wilcoxonP: number;
  welchP: number;
  randomNullP: number | null;
  traitRandomNullP: number | null;
  traitRandomNullPHolm: number | null;
  /** 95th percentile of the random directions' best-layer |effect size|: the bar a finding clears. */
  randomNull95: number | null;
  /** Largest |d| of the bank's few random baseline vectors at the peak layer (a rough look). */
  randomMaxAbsD: number | null;
  finding: boolean;
  reason: string | null;
}

export interface BuildAnalysisSummaryOptions {
  variants: { a: string; b: string | undefined };
  promptSets: readonly string[];
  prompts: ExperimentPrompts;
  labelling: PromptLabelling;
  projected: ProjectedActivations;
  bank: VectorBank;
  settings: ProjectionSettings;
  source: 'activations' | 'projections';
  /** The detection features, when detection ran. */
  detectionFeatures: DetectionFeatures | null;
  modelDiff: ModelDiffResult | undefined;
  detection: DetectionResult | undefined;
  alpha: number;
  /** The files written so far (the summary adds itself). */
  files: Record<string, string>;
  /** `performance.now()` when the analysis started. */
  started: number;
}

/** summary.json: what was analysed and how, the highlights and the verdict. */
export function buildAnalysisSummary(options: BuildAnalysisSummaryOptions): AnalysisSummary {
  const { prompts, labelling, projected, bank, settings, modelDiff, detection, alpha } = options;
  const highlights = modelDiffHighlights(modelDiff);
  return {
    format: 'traitlens.analysis',
    formatVersion: analysisFormatVersion,
    createdAt: new Date().toISOString(),
    variants: { a: options.variants.a, b: options.variants.b ?? null },
    promptSets: [...options.promptSets],
    prompts: {
      analysed: prompts.prompts.length,
      paired: projected.b ? projected.paired.reduce((sum, value) => sum + value, 0) : 0,
      onlyInA: prompts.onlyInA.length,
      onlyInB: prompts.onlyInB.length,
      labelled: labelling.labels.reduce((sum, value) => sum + (Number.isNaN(value) ? 0 : 1), 0),
      positives: labelling.labels.reduce((sum, value) => sum + (value === 1 ? 1 : 0), 0),
      annotated: labelling.promptAnnotations?.size ?? 0,
      grouped: labelling.groups.size,
    },
    projection: {
      site: bank.site,
      measure: settings.measure,
      centred: settings.centred,
      aggregation: formatResponseAggregation(settings.aggregation),
      part: settings.part,
      layers: bank.layers,
      hiddenSize: bank.hiddenSize,
      source: options.source,
    },
    vectors: bank.vectors.map((vector) => ({
      id: vector.id,
      trait: vector.trait,
      method: vector.method,
      category: vector.category ?? null,
      source: vector.source ?? null,
      isRandomBaseline: vector.isRandomBaseline,
    })),
    detectionFeatures: options.detectionFeatures,
    files: options.files,
    statistics: {
      alpha,
      familySize: modelDiff?.familySize ?? null,
      randomNull: modelDiff?.randomNull ?? null,
    },
    highlights: {
      modelDiff: highlights.filter((peak) => peak.finding),
      notDistinguishable: highlights.filter((peak) => !peak.finding),
      traits: modelDiff ? summarizeTraits(modelDiff.peaks) : [],
      detection: detectionHighlight(detection),
    },
    verdict: evaluateSuccessCriteria({ modelDiff, detection, alpha }),
    elapsedSeconds: (performance.now() - options.started) / 1000,
  };
}

/** Every trait vector's peak, strongest first (random baselines left out). */
function modelDiffHighlights(modelDiff: ModelDiffResult | undefined): ModelDiffHighlight[] {
  const randomMax = new Map(
    modelDiff?.randomBaselineMaxAbsD.map((entry) => [entry.layer, entry.maxAbsD]) ?? [],
  );
  return (modelDiff?.peaks ?? [])
    .filter((peak) => !peak.isRandomBaseline)
    .sort((x, y) => Math.abs(y.effectSize) - Math.abs(x.effectSize))
    .map((peak) => ({
      vectorId: peak.vectorId,
      trait: peak.trait,
      method: peak.method,
      peakLayer: peak.peakLayer,
      cohensD: peak.cohensD,
      pairedD: peak.pairedD,
      effectSize: peak.effectSize,
      primaryTest: peak.primaryTest,
      p: peak.p,
      pHolm: peak.pHolm,
      pBenjaminiHochberg: peak.pBenjaminiHochberg,
      wilcoxonP: peak.wilcoxonP,
      welchP: peak.welchP,
      randomNullP: peak.randomNullP,
      traitRandomNullP: peak.traitRandomNullP,
      traitRandomNullPHolm: peak.traitRandomNullPHolm,
      randomNull95: modelDiff?.randomNull?.maxOverLayersQ95 ?? null,
      randomMaxAbsD: randomMax.get(peak.peakLayer) ?? null,
      finding: peak.finding,
      reason: peak.reason,
    }));
}

function detectionHighlight(
  detection: DetectionResult | undefined,
): AnalysisSummary['highlights']['detection'] {
  if (!detection?.best) return null;
  return {
    layer: detection.best.layer,
    cvAuroc: detection.best.cvAuroc,
    cvAurocInterval: detection.best.cvAurocInterval,
    cvAccuracy: detection.best.cvAccuracy,
    majorityRate: detection.majorityRate,
    validation: detection.validation.scheme,
    randomCvAuroc: detection.best.randomCvAuroc,
    permutationP: detection.permutation?.pValue ?? null,
    permutationScheme: detection.permutation?.scheme ?? null,
    heldOutAuroc: detection.generalization?.testAuroc ?? null,
    heldOutAurocInterval: detection.generalization?.testAurocInterval ?? null,
  };
}
