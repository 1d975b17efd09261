import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { type ActivationPart, experimentLayout, removeStaleTemporaryFiles } from '@traitlens/core';
import type { DetectionResult } from '../detection/run-detection';
import type { ModelDiffResult } from '../diff/compute-model-diff';
import { computeVectorConsistency } from '../predictivity/compute-vector-consistency';
import type { ProjectedActivations } from '../projections/project-activation-files';
import type {
  ProjectionMeasure,
  ProjectionSettings,
  ResponseAggregation,
} from '../projections/projection-settings';
import type { VectorBank } from '../projections/vector-bank';
import type { DetectionFeatures, VectorConsistencyFile } from './analysis-files';
import { analysisFormatVersion } from './analysis-format-version';
import { type AnalysisSummary, buildAnalysisSummary } from './build-analysis-summary';
import { collectExperimentPrompts, type ExperimentPrompts } from './experiment-prompts';
import { loadAnalysisVectors } from './load-analysis-vectors';
import { loadPromptLabelling, type PromptLabelling } from './load-prompt-labelling';
import { projectExperiment } from './project-experiment';
import { readBestMethods } from './read-best-methods';
import { runDetectionStep, selectDetectionTable } from './run-detection-step';
import { runModelDiffStep } from './run-model-diff-step';
import { runPredictivityStep } from './run-predictivity-step';
import { selectTokenViewPrompts } from './select-token-view-prompts';
import type { MethodSelection } from './trait-methods';
import { writeAnalysisJson } from './write-analysis-json';
import { writeProjectionsFile } from './write-projections-file';
import { writeTokenViewFile } from './write-token-view-file';

/** Every option may also be given as `undefined`, which means its default. */
export interface AnalyzeExperimentOptions {
  // What is compared.
  /** The experiment directory (`experiments/<name>`). */
  experiment: string;
  /** Reference variant (e.g. the clean model). */
  variantA: string;
  /** Variant compared against A (e.g. the LoRA model organism); without it only projections, detection and predictivity run. */
  variantB?: string | undefined;
  promptSets: readonly string[];

  // Which vectors.
  /** Trait names or category/trait to analyse (default: every trait with vectors). */
  traits?: readonly string[] | undefined;
  /**
   * Extraction methods to use (default: all but random_baseline): a list for every trait; per trait one
   * method (`{'alignment/sycophancy': 'probe'}`, keyed by name or category/trait); or `'best'`, per trait
   * the method with the best held-out score in its extraction evaluation (`readBestMethods`).
   */
  methods?: MethodSelection | 'best' | undefined;
  /** Explicit vector files instead of (not in addition to) the experiment's extraction folders. */
  vectorFiles?: readonly string[] | undefined;
  layers?: readonly number[] | undefined;

  // How responses are projected.
  measure?: ProjectionMeasure | undefined;
  centred?: boolean | undefined;
  aggregation?: ResponseAggregation | undefined;
  part?: ActivationPart | undefined;

  // What is known about the prompts.
  /** Labels per prompt id: a labels file, judge scores, or an annotation file (see readPromptLabels). */
  labelsFile?: string | undefined;
  labelThreshold?: number | undefined;
  /** Exploit-span annotations `{prompt_id: {exploitations: [{tokens: [start, end)}]}}`; also labels when no labels file is given. */
  annotationsFile?: string | undefined;
  /** Prompt-set files giving each prompt's bias id: `path` (one prompt set) or `<prompt set>=path`. */
  promptFiles?: readonly string[] | undefined;
  /** Bias ids to train the detector on; other labelled groups are held out (default: ids whose prompts say split "train"). */
  trainGroups?: readonly number[] | undefined;
  /** Detection/predictivity features: B's projections (default with B), A's, or B - A. */
  detectionFeatures?: DetectionFeatures | undefined;
  /** Out-of-distribution prompt sets (projected for the detection variant) with their own labels, for predictivity. */
  outOfDistribution?: { promptSets: readonly string[]; labelsFile: string } | undefined;

  // Statistics.
  /** Random unit vectors per layer projected alongside as chance-level controls (default 8). */
  randomBaselines?: number | undefined;
  /**
   * Random directions of the model diff's null (default 1000; 0: use the random baseline vectors only).
   * Each response's aggregated activation is projected onto them, exact for every aggregation but `max`.
   */
  randomDirections?: number | undefined;
  /** Significance level of findings and verdicts (default 0.05). */
  alpha?: number | undefined;
  bootstrapResamples?: number | undefined;
  permutations?: number | undefined;
  folds?: number | undefined;
  seed?: number | undefined;

  // Outputs and how the work is done.
  /** How many prompts (or which prompt ids) keep per-token projections for the token view (default 12). */
  tokenViewPrompts?: number | readonly string[] | undefined;
  /** Where to write (default `<experiment>/analysis`). */
  outputDirectory?: string | undefined;
  readAhead?: number | undefined;
  /** Threads projecting in parallel (default: available parallelism, at most 8; 1 = no workers). */
  threads?: number | undefined;
  /**
   * `activations`: activation files (default when variant A has an activations folder). `projections`:
   * capture's projection files (per-token projections taken during capture, when activations were not
   * stored); the vectors are then the files' columns and random controls exist only if captured.
   */
  source?: 'activations' | 'projections' | undefined;
  onProgress?: ((stage: string, done: number, total: number) => void) | undefined;
}

/** What every step of one analysis shares: its inputs, read once. */
interface AnalysisInputs {
  output: string;
  source: 'activations' | 'projections';
  settings: ProjectionSettings;
  seed: number;
  alpha: number;
  bank: VectorBank;
  prompts: ExperimentPrompts;
  labelling: PromptLabelling;
}

/**
 * Runs the whole analysis of one experiment: projections of variants A and B onto every trait vector
 * (streamed from the activation files), the model diff with bootstrap intervals (all prompts and, where
 * known, by label and by train/held-out bias), detection and predictivity against labels, vector
 * consistency and the token view; writes each as documented JSON under `analysis/` (docs/analysis.md).
 */
export async function analyzeExperiment(options: AnalyzeExperimentOptions): Promise<AnalysisSummary> {
  const started = performance.now();
  const inputs = await loadAnalysisInputs(options);
  const { output, bank, prompts, labelling, settings } = inputs;
  const projected = await projectExperiment({
    prompts: prompts.prompts,
    bank,
    settings,
    variantA: options.variantA,
    variantB: options.variantB,
    source: inputs.source,
    randomDirections: options.randomDirections ?? 1000,
    seed: inputs.seed,
    annotations: labelling.promptAnnotations,
    tokenView: selectTokenViewPrompts({
      prompts,
      wanted: options.tokenViewPrompts ?? 12,
      labels: labelling.labels,
      annotations: labelling.annotations,
    }),
    readAhead: options.readAhead,
    threads: options.threads,
    onProgress: (done, total) => options.onProgress?.('project', done, total),
  });
  const files: Record<string, string> = {};
  files.projections = await writeProjectionsFile({
    output,
    projected,
    bank,
    prompts: prompts.prompts,
    settings,
  });
  const step: AnalysisStep = { options, inputs, projected, files };
  const modelDiff = await analyzeModelDiff(step);
  const detectionFeatures = options.detectionFeatures ?? (projected.b ? 'b' : 'a');
  const detection = await analyzeLabels(step, detectionFeatures);
  if (bank.hasDirections) files.vectorConsistency = await writeVectorConsistencyFile(output, bank);
  files.tokenView = await writeTokenViewFile({ output, projected, bank, prompts, settings, labelling });
  const summary = buildAnalysisSummary({
    variants: { a: options.variantA, b: options.variantB },
    promptSets: options.promptSets,
    prompts,
    labelling,
    projected,
    bank,
    settings,
    source: inputs.source,
    detectionFeatures: labelling.labelMap ? detectionFeatures : null,
    modelDiff,
    detection,
    alpha: inputs.alpha,
    files,
    started,
  });
  files.summary = 'summary.json';
  await writeAnalysisJson(join(output, 'summary.json'), summary);
  return summary;
}

/** Reads what every step needs: the vectors, the prompts with files, and their labels and groups. */
async function loadAnalysisInputs(options: AnalyzeExperimentOptions): Promise<AnalysisInputs> {
  const output = options.outputDirectory ?? experimentLayout(options.experiment).analysis;
  // Temporary files of an analysis that was killed are no one's now (a live writer's are kept).
  await removeStaleTemporaryFiles(output, { recursive: true });
  const settings: ProjectionSettings = {
    measure: options.measure ?? 'cosine',
    centred: options.centred ?? false,
    aggregation: options.aggregation ?? { kind: 'mean' },
    part: options.part ?? 'response',
  };
  const seed = options.seed ?? 0;
  const source = options.source ?? (await detectAnalysisSource(options));
  const bank = await loadAnalysisVectors({
    experiment: options.experiment,
    variantA: options.variantA,
    promptSets: options.promptSets,
    source,
    traits: options.traits,
    methods: await resolveMethods(options),
    vectorFiles: options.vectorFiles,
    layers: options.layers,
    randomBaselines: options.randomBaselines ?? 8,
    seed,
  });
  const prompts = await collectExperimentPrompts({
    experiment: options.experiment,
    variantA: options.variantA,
    variantB: options.variantB,
    promptSets: options.promptSets,
    source,
  });
  const labelling = await loadPromptLabelling({
    prompts,
    promptSets: options.promptSets,
    labelsFile: options.labelsFile,
    labelThreshold: options.labelThreshold,
    annotationsFile: options.annotationsFile,
    promptFiles: options.promptFiles,
    trainGroups: options.trainGroups,
  });
  return { output, source, settings, seed, alpha: options.alpha ?? 0.05, bank, prompts, labelling };
}

/** `'best'` becomes the per-trait choice of the experiment's extraction evaluations (vector files need none). */
async function resolveMethods(options: AnalyzeExperimentOptions): Promise<MethodSelection | undefined> {
  if (options.methods !== 'best') return options.methods;
  if (options.vectorFiles?.length) return undefined;
  return readBestMethods(options.experiment, { traits: options.traits });
}

/** Activation files when variant A has an activations folder for the first prompt set, else projection files. */
async function detectAnalysisSource(
  options: AnalyzeExperimentOptions,
): Promise<'activations' | 'projections'> {
  const folders = experimentLayout(options.experiment).inference(
    options.variantA,
    options.promptSets[0] ?? '',
  );
  const exists = async (path: string) => {
    try {
      return (await stat(path)).isDirectory();
    } catch {
      return false;
    }
  };
  return !(await exists(folders.activations)) && (await exists(folders.projections))
    ? 'projections'
    : 'activations';
}

/** The model diff step, when variant B was projected. */
/** What a step after the projections works with; it records the files it writes in `files`. */
interface AnalysisStep {
  options: AnalyzeExperimentOptions;
  inputs: AnalysisInputs;
  projected: ProjectedActivations;
  files: Record<string, string>;
}

async function analyzeModelDiff({
  options,
  inputs,
  projected,
  files,
}: AnalysisStep): Promise<ModelDiffResult | undefined> {
  if (!projected.b) return undefined;
  options.onProgress?.('model-diff', 0, 1);
  const modelDiff = await runModelDiffStep({
    output: inputs.output,
    projected,
    bank: inputs.bank,
    prompts: inputs.prompts.prompts,
    labelling: inputs.labelling,
    settings: inputs.settings,
    variants: { a: options.variantA, b: options.variantB ?? '' },
    bootstrap: { resamples: options.bootstrapResamples ?? 1000, seed: inputs.seed },
    alpha: inputs.alpha,
  });
  files.modelDiff = 'model-diff.json';
  options.onProgress?.('model-diff', 1, 1);
  return modelDiff;
}

/** Detection and predictivity, when the prompts carry labels. */
async function analyzeLabels(
  { options, inputs, projected, files }: AnalysisStep,
  features: DetectionFeatures,
): Promise<DetectionResult | undefined> {
  if (!inputs.labelling.labelMap) return undefined;
  const { output, bank, labelling } = inputs;
  const table = selectDetectionTable(projected, features);
  options.onProgress?.('detection', 0, 1);
  const detection = await runDetectionStep({
    output,
    table,
    features,
    bank,
    prompts: inputs.prompts.prompts,
    labelling,
    seed: inputs.seed,
    folds: options.folds,
    permutations: options.permutations,
    bootstrapResamples: options.bootstrapResamples,
  });
  files.detection = 'detection.json';
  options.onProgress?.('detection', 1, 1);
  const ood = options.outOfDistribution;
  await runPredictivityStep({
    output,
    table,
    labels: labelling.labels,
    features,
    bank,
    settings: inputs.settings,
    outOfDistribution: ood && {
      experiment: options.experiment,
      variant: features === 'a' ? options.variantA : (options.variantB ?? options.variantA),
      promptSets: ood.promptSets,
      labelsFile: ood.labelsFile,
      labelThreshold: options.labelThreshold,
      source: inputs.source,
      threads: options.threads,
      onProgress: (done, total) => options.onProgress?.('project-ood', done, total),
    },
  });
  files.predictivity = 'predictivity.json';
  return detection;
}

async function writeVectorConsistencyFile(output: string, bank: VectorBank): Promise<string> {
  const file: VectorConsistencyFile = {
    format: 'traitlens.analysis.vector-consistency',
    formatVersion: analysisFormatVersion,
    layers: computeVectorConsistency(bank),
  };
  await writeAnalysisJson(join(output, 'vector-consistency.json'), file);
  return 'vector-consistency.json';
}
