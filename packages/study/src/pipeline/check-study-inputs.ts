import { dirname, join, resolve } from 'node:path';
import { parseLayerSelection, TraitlensError } from '@traitlens/core';
import { loadTraitDataset } from '@traitlens/extraction';
import type { LayerSelectionConfig } from '../config/experiment-config';
import type { Experiment } from '../config/load-experiment';
import { loadStudyPromptSets } from '../config/study-prompt-sets';
import { readSpanAnnotations } from '../labels/read-span-annotations';
import { readAbItems } from '../predictivity/read-ab-items';
import { readContrastSet } from '../predictivity/read-contrast-set';
import type { StudyStage } from './pipeline-state';

export interface CheckStudyInputsOptions {
  /** The stages about to run (only their inputs are checked). */
  stages: readonly StudyStage[];
  /** The environment the judge key is read from (default process.env). */
  environment?: Readonly<Record<string, string | undefined>>;
}

/** Layer syntax without the model: layers beyond the model's count are checked once it is known. */
function checkLayerSyntax(selection: LayerSelectionConfig | undefined, field: string): string | undefined {
  if (selection === undefined || typeof selection !== 'string') return undefined;
  try {
    parseLayerSelection(selection, 1 << 20);
  } catch (error) {
    return `${field}: ${error instanceof Error ? error.message : String(error)}`;
  }
  return undefined;
}

/**
 * What can be checked before any model loads, for the stages about to run: trait data sets, prompt
 * sets, the annotation file, the predictivity item files, layer syntax and the judge's API key. Every
 * problem is listed at once (a single one is rethrown as it is), so a typo in the last stage does not cost
 * hours of model time first.
 */
export async function checkStudyInputs(
  experiment: Experiment,
  options: CheckStudyInputsOptions,
): Promise<void> {
  const { config } = experiment;
  const running = new Set(options.stages);
  const environment = options.environment ?? process.env;
  const errors: unknown[] = [];
  const problems: string[] = [];
  const attempt = async (check: () => Promise<unknown>) => {
    try {
      await check();
    } catch (error) {
      errors.push(error);
      problems.push(error instanceof Error ? error.message : String(error));
    }
  };
  const note = (problem: string | undefined) => {
    if (problem) problems.push(problem);
  };
  const { extract, steer, capture, predictivity, label } = config.stages;
  if (extract && running.has('extract')) {
    for (const trait of extract.traits)
      await attempt(() =>
        loadTraitDataset(join(experiment.datasetsDirectory, trait), { requireRubric: extract.vetResponses }),
      );
    note(checkLayerSyntax(extract.layers, 'stages.extract.layers'));
  }
  if (extract && running.has('steer')) note(checkLayerSyntax(steer.layers, 'stages.steer.layers'));
  const readsPrompts = (['capture', 'replay', 'label', 'intervene', 'analyze'] as const).some((stage) =>
    running.has(stage),
  );
  if (capture && readsPrompts) {
    await attempt(() => loadStudyPromptSets(experiment));
    note(checkLayerSyntax(capture.layers, 'stages.capture.layers'));
  }
  if (label && experiment.annotationsFile && (running.has('label') || running.has('analyze')))
    await attempt(() => readSpanAnnotations(experiment.annotationsFile!));
  if (predictivity && running.has('predictivity')) {
    const path = (file: string) => resolve(dirname(experiment.file), file);
    if (predictivity.caa) await attempt(() => readAbItems(path(predictivity.caa!.items)));
    for (const set of predictivity.heldOut) await attempt(() => readAbItems(path(set.items)));
    for (const set of predictivity.contrastSets) await attempt(() => readContrastSet(path(set.file)));
    note(checkLayerSyntax(predictivity.layers, 'stages.predictivity.layers'));
    note(checkLayerSyntax(predictivity.ablation?.layers, 'stages.predictivity.ablation.layers'));
  }
  const needsJudge =
    (extract && (running.has('steer') || (running.has('extract') && extract.vetResponses))) ||
    (label?.judge && running.has('label')) ||
    (label?.judge && running.has('intervene'));
  const spec = config.judge?.spec;
  if (needsJudge && spec?.startsWith('openai:')) {
    const configured = config.judge?.baseUrl;
    const urls =
      configured === undefined
        ? [environment.OPENAI_BASE_URL ?? 'https://api.openai.com/v1']
        : [configured].flat();
    const official = urls.find((url) => /^https:\/\/api\.openai\.com\b/.test(url));
    if (official && !environment.OPENAI_API_KEY)
      problems.push(
        `judge.spec: ${spec} calls ${official}, which needs an API key: set OPENAI_API_KEY, or give judge.baseUrl a local OpenAI-compatible server (vLLM, Ollama, llama.cpp), or use local:<model> / lexicon.`,
      );
  }
  if (problems.length === 1 && errors.length === 1) throw errors[0];
  if (problems.length > 0)
    throw new TraitlensError(
      'INVALID_EXPERIMENT',
      `${experiment.file}: ${problems.length} problem${problems.length === 1 ? '' : 's'} found before loading any model:\n${problems.map((problem) => `  ${problem}`).join('\n')}`,
      { details: { file: experiment.file, problems } },
    );
}
