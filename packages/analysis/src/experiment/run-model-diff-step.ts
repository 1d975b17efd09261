import { join } from 'node:path';
import { computeModelDiff, type ModelDiffResult } from '../diff/compute-model-diff';
import type { ProjectedActivations } from '../projections/project-activation-files';
import { formatResponseAggregation, type ProjectionSettings } from '../projections/projection-settings';
import type { VectorBank } from '../projections/vector-bank';
import type { ModelDiffFile } from './analysis-files';
import { analysisFormatVersion } from './analysis-format-version';
import type { ExperimentPrompt } from './experiment-prompts';
import type { PromptLabelling } from './load-prompt-labelling';
import { writeAnalysisJson } from './write-analysis-json';

export interface RunModelDiffStepOptions {
  output: string;
  projected: ProjectedActivations;
  bank: VectorBank;
  prompts: readonly ExperimentPrompt[];
  labelling: PromptLabelling;
  settings: ProjectionSettings;
  variants: { a: string; b: string };
  bootstrap: { resamples: number; seed: number };
  alpha: number;
}

/**
 * The model diff over all prompts (the primary result) and, where known, by label and by train/held-out
 * group; writes analysis/model-diff.json.
 */
export async function runModelDiffStep(options: RunModelDiffStepOptions): Promise<ModelDiffResult> {
  const { projected, bank, bootstrap, alpha, settings } = options;
  const { trainGroups } = options.labelling;
  const primary = computeModelDiff(projected, bank, { bootstrap, subset: 'all', alpha });
  const subsets = [primary];
  for (const [subset, promptIndices] of modelDiffSubsets(options))
    if (promptIndices.length >= 2)
      subsets.push(computeModelDiff(projected, bank, { bootstrap, subset, promptIndices, alpha }));
  const file: ModelDiffFile = {
    format: 'traitlens.analysis.model-diff',
    formatVersion: analysisFormatVersion,
    variants: options.variants,
    measure: settings.measure,
    aggregation: formatResponseAggregation(settings.aggregation),
    trainGroups: trainGroups ? [...trainGroups].sort((x, y) => x - y) : null,
    subsets,
    tokenLevel: projected.tokenDeltas ?? [],
  };
  await writeAnalysisJson(join(options.output, 'model-diff.json'), file);
  return primary;
}

/** The prompt subsets besides all prompts: by label, and the train and held-out groups. */
function modelDiffSubsets(options: RunModelDiffStepOptions): [string, number[]][] {
  const { prompts } = options;
  const { labelMap, labels, groups, trainGroups } = options.labelling;
  const indicesWhere = (predicate: (index: number) => boolean) => prompts.map((_, i) => i).filter(predicate);
  const subsets: [string, number[]][] = [];
  if (labelMap) {
    subsets.push(
      ['label=1', indicesWhere((i) => labels[i] === 1)],
      ['label=0', indicesWhere((i) => labels[i] === 0)],
    );
  }
  if (trainGroups) {
    const groupOf = (i: number) => groups.get(prompts[i]!.key)?.group;
    subsets.push(
      ['train-groups', indicesWhere((i) => trainGroups.has(groupOf(i) ?? Number.NaN))],
      [
        'held-out-groups',
        indicesWhere((i) => {
          const group = groupOf(i);
          return group !== undefined && !trainGroups.has(group);
        }),
      ],
    );
  }
  return subsets;
}
