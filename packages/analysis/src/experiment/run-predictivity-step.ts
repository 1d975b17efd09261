import { join } from 'node:path';
import {
  measurePredictivity,
  type PredictivitySet,
  summarizePredictivity,
} from '../predictivity/measure-predictivity';
import { projectActivationFiles } from '../projections/project-activation-files';
import { formatResponseAggregation, type ProjectionSettings } from '../projections/projection-settings';
import type { ProjectionTable } from '../projections/projection-table';
import type { VectorBank } from '../projections/vector-bank';
import type { DetectionFeatures, PredictivityFile } from './analysis-files';
import { analysisFormatVersion } from './analysis-format-version';
import { collectExperimentPrompts, lookupPrompt } from './experiment-prompts';
import { parsePromptLabels, readJsonFile } from './read-prompt-labels';
import { writeAnalysisJson } from './write-analysis-json';

/** Out-of-distribution prompt sets of one variant with their own labels. */
export interface OutOfDistributionSets {
  experiment: string;
  /** The variant whose activations are projected (the detection features' variant). */
  variant: string;
  promptSets: readonly string[];
  labelsFile: string;
  labelThreshold: number | undefined;
  source: 'activations' | 'projections';
  threads: number | undefined;
  onProgress: (done: number, total: number) => void;
}

export interface RunPredictivityStepOptions {
  output: string;
  /** The detection features' table of the analysed prompts, and their labels. */
  table: ProjectionTable;
  labels: Float64Array;
  features: DetectionFeatures;
  bank: VectorBank;
  settings: ProjectionSettings;
  outOfDistribution: OutOfDistributionSets | undefined;
}

/** Predictivity in distribution and, when given, out of distribution; writes analysis/predictivity.json. */
export async function runPredictivityStep(options: RunPredictivityStepOptions): Promise<void> {
  const { bank, settings } = options;
  const sets: PredictivitySet[] = [measurePredictivity('in-distribution', options.table, options.labels)];
  if (options.outOfDistribution)
    sets.push(await measureOutOfDistribution(options.outOfDistribution, bank, settings));
  const file: PredictivityFile = {
    format: 'traitlens.analysis.predictivity',
    formatVersion: analysisFormatVersion,
    measure: settings.measure,
    aggregation: formatResponseAggregation(settings.aggregation),
    features: options.features,
    sets,
    summary: summarizePredictivity(sets),
  };
  await writeAnalysisJson(join(options.output, 'predictivity.json'), file);
}

async function measureOutOfDistribution(
  ood: OutOfDistributionSets,
  bank: VectorBank,
  settings: ProjectionSettings,
): Promise<PredictivitySet> {
  const { prompts, uniqueIds } = await collectExperimentPrompts({
    experiment: ood.experiment,
    variantA: ood.variant,
    promptSets: ood.promptSets,
    source: ood.source,
  });
  const labels = parsePromptLabels(
    await readJsonFile(ood.labelsFile, 'Out-of-distribution labels'),
    ood.labelsFile,
    { threshold: ood.labelThreshold },
  );
  const projected = await projectActivationFiles(
    prompts.map((prompt) => ({ promptId: prompt.key, pathA: prompt.pathA })),
    {
      bank,
      settings,
      variantA: ood.variant,
      ...(ood.threads ? { threads: ood.threads } : {}),
      source: ood.source,
      onProgress: ood.onProgress,
    },
  );
  return measurePredictivity(
    'out-of-distribution',
    projected.a,
    Float64Array.from(prompts, (prompt) => lookupPrompt(labels, prompt, uniqueIds) ?? Number.NaN),
  );
}
