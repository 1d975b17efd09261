import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  analyzeExperiment,
  findExperimentVectors,
  listActivationFiles,
  readBestMethods,
} from '@traitlens/analysis';
import { parseResponseAggregation } from '@traitlens/analysis/internal';
import { readTraitVectors, SafetensorsFile, TraitlensError } from '@traitlens/core';
import { loadStudyPromptSets } from '../config/study-prompt-sets';
import {
  analyzeDecompositionPairs,
  type DecompositionPair,
  type DecompositionSide,
} from '../decomposition/analyze-decomposition-pairs';
import { type LabelsFile, labelPaths } from '../labels/label-responses';
import { requireStages, type StageContext, type StageSummary } from './stage-context';
import { createStageProgressTracker } from './stage-progress';

/** The resid_post layers stored in the first activation file of a variant (every file has the same). */
async function readStoredLayers(
  experimentDirectory: string,
  variant: string,
  promptSet: string,
): Promise<number[]> {
  const [first] = (await listActivationFiles(experimentDirectory, variant, promptSet)).values();
  const file = await SafetensorsFile.open(first!);
  try {
    const layers = [...file.tensors.keys()]
      .map((name) => /^response\.resid_post\.(\d+)$/.exec(name)?.[1])
      .filter((layer): layer is string => layer !== undefined)
      .map(Number);
    return layers.sort((a, b) => a - b);
  } finally {
    await file.close();
  }
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

async function readLabels(path: string): Promise<LabelsFile | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as LabelsFile;
  } catch {
    return undefined;
  }
}

/** The method of a decomposition trait's vectors: the first listed, or the trait's `best` choice. */
function decompositionMethod(
  methods: readonly string[] | Readonly<Record<string, string>>,
  trait: string,
  file: string,
): string {
  if (Array.isArray(methods)) return methods[0]!;
  const chosen = Object.entries(methods).find(([key]) => key === trait || key.endsWith(`/${trait}`));
  if (!chosen)
    throw new TraitlensError(
      'INVALID_CONFIG',
      `${file}: stages.analyze.decompositionPairs names "${trait}", which has no extracted vectors; add it to stages.extract.traits.`,
    );
  return chosen[1];
}

/**
 * Stage 6: project both variants onto every trait vector, the model diff per trait
 * and layer (all, train groups, held-out groups), detection of responses labelled 1 from trait projections
 * (train groups -> held-out groups), predictivity, token-level specificity where annotated spans exist.
 */
export async function runAnalyzeStage(context: StageContext): Promise<StageSummary> {
  const { experiment, log } = context;
  // runStudy runs this stage only with analyze, extract and capture blocks (checked with the config).
  const { analyze, capture, replay, label } = requireStages(experiment.config.stages, 'analyze', 'capture');
  const labels = await readStageLabels(context, { labelled: label !== undefined });
  // `best`: per trait, the method its extraction evaluation ranked best (fails naming a trait without one).
  const methods = analyze.methods === 'best' ? await readBestMethods(experiment.directory) : analyze.methods;
  const promptSetIds = (await loadStudyPromptSets(experiment)).map((set) => set.id);
  const layers = await analysedLayers(context, {
    methods,
    variant: replay.variant,
    promptSet: promptSetIds[0]!,
  });
  let lastStage = '';
  const progress = createStageProgressTracker(context);
  const summary = await analyzeExperiment({
    experiment: experiment.directory,
    variantA: replay.variant,
    variantB: capture.variant,
    promptSets: promptSetIds,
    methods,
    layers,
    measure: analyze.measure,
    aggregation: parseResponseAggregation(analyze.aggregation),
    part: 'response',
    labelsFile: labels.labelsFile,
    annotationsFile: labels.annotationsFile,
    trainGroups: analyze.trainGroups,
    detectionFeatures: analyze.detectionFeatures,
    randomBaselines: analyze.randomBaselines,
    bootstrapResamples: analyze.bootstrap,
    permutations: analyze.permutations,
    folds: analyze.folds,
    seed: analyze.seed,
    tokenViewPrompts: analyze.tokenView,
    onProgress: (stage, done, total) => {
      if (total > 0) progress.update(`analyze ${stage}`, done, total);
      if (stage !== lastStage) log(`  ${(lastStage = stage)}`);
    },
  });
  progress.finishAll();
  for (const peak of summary.highlights.modelDiff.slice(0, 6))
    log(
      `  ${peak.vectorId}: peak layer ${peak.peakLayer}, d ${peak.cohensD.toFixed(2)}, paired d ${peak.pairedD.toFixed(2)}, p ${peak.p.toExponential(1)}`,
    );
  const detection = summary.highlights.detection;
  if (detection)
    log(
      `  detection: layer ${detection.layer}, CV AUROC ${detection.cvAuroc.toFixed(3)} (random vectors ${detection.randomCvAuroc.toFixed(3)})${detection.heldOutAuroc === null ? '' : `, held-out groups AUROC ${detection.heldOutAuroc.toFixed(3)}`}`,
    );
  const decomposition =
    analyze.decompositionPairs.length > 0
      ? await runDecompositionPairs(context, { pairs: analyze.decompositionPairs, methods })
      : undefined;
  return {
    decompositionPairs: decomposition,
    prompts: summary.prompts,
    layers: summary.projection.layers,
    vectors: summary.vectors.filter((vector) => !vector.isRandomBaseline).map((vector) => vector.id),
    files: summary.files,
    detection: detection ?? labels.skipped,
    topModelDiff: summary.highlights.modelDiff.slice(0, 12),
  };
}

/** The label stage's labels and spans, when there are enough of both classes for detection. */
interface StageLabels {
  labelsFile: string | undefined;
  annotationsFile: string | undefined;
  /** Why detection did not run (for the stage summary). */
  skipped: string;
}

async function readStageLabels(
  context: StageContext,
  options: {
    /** The config has a label block: its labels.json must exist. */
    labelled: boolean;
  },
): Promise<StageLabels> {
  const { labelled } = options;
  const paths = labelPaths(context.experiment.directory);
  const labels = labelled ? await readLabels(paths.labels) : undefined;
  if (labelled && !labels)
    throw new TraitlensError('INVALID_EXPERIMENT', `${paths.labels} is missing; run the label stage first.`);
  if (!labels) return { labelsFile: undefined, annotationsFile: undefined, skipped: 'no labels' };
  // Detection needs both classes; with fewer, the model diff still runs and the summary says why detection did not.
  const values = Object.values(labels.labels);
  const positives = values.filter((value) => value === 1).length;
  const negatives = values.length - positives;
  const skipped = `skipped: ${positives} labelled 1, ${negatives} other`;
  if (positives < 2 || negatives < 2) {
    context.log(
      `  warning: ${positives} labelled 1 and ${negatives} other responses: detection needs 2 of each and is skipped`,
    );
    return { labelsFile: undefined, annotationsFile: undefined, skipped };
  }
  // The label stage writes every span it knows (keyword matches, a given annotation file) in one format.
  const annotationsFile = (await exists(paths.annotations)) ? paths.annotations : undefined;
  return { labelsFile: paths.labels, annotationsFile, skipped };
}

/** The layers that have both trait vectors (of the analysed methods) and stored activations. */
async function analysedLayers(
  context: StageContext,
  options: {
    methods: readonly string[] | Readonly<Record<string, string>>;
    variant: string;
    promptSet: string;
  },
): Promise<number[]> {
  const { experiment } = context;
  const vectorFiles = await findExperimentVectors(experiment.directory, { methods: options.methods });
  const vectorLayers = new Set<number>();
  for (const file of vectorFiles)
    for (const layer of (await readTraitVectors(file.path)).vectors.keys()) vectorLayers.add(layer);
  const storedLayers = await readStoredLayers(experiment.directory, options.variant, options.promptSet);
  const layers = storedLayers.filter((layer) => vectorLayers.has(layer));
  if (layers.length === 0)
    throw new TraitlensError(
      'INVALID_CONFIG',
      `${experiment.file}: no layer has both trait vectors (stages.extract.layers) and stored activations (stages.capture.layers); make them overlap.`,
    );
  return layers;
}

/** The decomposition pairs on the analysis' projections; logs each pair's strongest layer. */
async function runDecompositionPairs(
  context: StageContext,
  options: {
    pairs: readonly (readonly string[])[];
    methods: readonly string[] | Readonly<Record<string, string>>;
  },
): Promise<{ file: string; plots: string[] }> {
  const { experiment, log } = context;
  const side = (entry: string): DecompositionSide => {
    const [trait, direction] = entry.split(' ') as [string, 'high' | 'low'];
    return { vector: `${trait}/${decompositionMethod(options.methods, trait, experiment.file)}`, direction };
  };
  const pairs = options.pairs.map((entries): DecompositionPair => {
    const [first, second] = entries;
    if (first === undefined || second === undefined)
      throw new Error(
        `a decomposition pair has two entries; the config check let ${entries.join(', ')} through`,
      );
    return { first: side(first), second: side(second) };
  });
  const decomposition = await analyzeDecompositionPairs({
    projectionsFile: join(experiment.directory, 'analysis', 'projections.json'),
    pairs,
    outputDirectory: join(experiment.directory, 'analysis', 'decomposition-pairs'),
  });
  for (const { first, second } of pairs) {
    const name = `${first.vector} ${first.direction} + ${second.vector} ${second.direction}`;
    const best = decomposition.results
      .filter((result) => result.pair === name)
      .sort((a, b) => b.meanDivergence - a.meanDivergence)[0];
    if (best)
      log(
        `  decomposition ${name}: layer ${best.layer}, divergence ${best.meanDivergence.toFixed(2)} sd, paired t p ${best.pairedT.p.toExponential(1)}, r ${best.correlation.r.toFixed(2)}`,
      );
  }
  return { file: decomposition.file, plots: decomposition.plots };
}
