import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readBestMethods } from '@traitlens/analysis';
import type { CapturedResponse } from '@traitlens/capture';
import { inferencePaths, readCapturedResponse } from '@traitlens/capture/internal';
import {
  experimentLayout,
  type Judge,
  readTraitVectors,
  TraitlensError,
  writeJsonAtomic,
} from '@traitlens/core';
import { vectorFilePath } from '@traitlens/extraction/internal';
import type { GenerationResult, LanguageModel } from '@traitlens/model-runtime';
import { generateSteered, type SteeringConfiguration } from '@traitlens/steering';
import type { ExperimentConfig } from '../config/experiment-config';
import type { Experiment } from '../config/load-experiment';
import { loadStudyPromptSets } from '../config/study-prompt-sets';
import { modelDiffVectorsPath } from '../diff/write-model-diff-vectors';
import { findKeywordSpans } from '../labels/find-keyword-spans';
import { createGroupRubric } from '../labels/group-rubric';
import { createLoraScaleView } from '../models/lora-scale-view';
import { createStudyJudge, type StudyJudge } from '../models/study-judge';
import { requireStages, type StageContext, type StageSummary } from './stage-context';
import { createStageProgressTracker } from './stage-progress';

/** One steered (or unsteered) answer of the organism, labelled like the label stage labels. */
export interface InterventionResponse {
  promptSet: string;
  promptId: string;
  group: number | null;
  responseText: string;
  label: 0 | 1 | null;
  score: number | null;
}

/** `<experiment>/intervention/results.json`. */
export interface InterventionResults {
  format: 'traitlens.intervention';
  formatVersion: '1';
  vector: { file: string; layer: number };
  labelMethod: 'keywords' | 'judge';
  /** Coefficient 0 is the organism without steering. */
  runs: { coefficient: number; labelled: number; positive: number; responses: InterventionResponse[] }[];
}

type InterveneSettings = NonNullable<ExperimentConfig['stages']['intervene']>;
type LabelSettings = NonNullable<ExperimentConfig['stages']['label']>;
type StoredPrompt = CapturedResponse & { promptSet: string };

/** The first `limit` captured prompts of the generating variant, in prompt-set order. */
async function readStoredPrompts(context: StageContext, limit: number): Promise<StoredPrompt[]> {
  const { experiment } = context;
  const { variant } = requireStages(experiment.config.stages, 'capture').capture;
  const records: StoredPrompt[] = [];
  for (const set of await loadStudyPromptSets(experiment)) {
    const paths = inferencePaths(experiment.directory, variant, set.id);
    for (const prompt of set.prompts) {
      if (records.length >= limit) return records;
      const record = await readCapturedResponse(paths.responseFile(prompt.id));
      if (record) records.push({ ...record, promptSet: set.id });
    }
  }
  if (records.length === 0)
    throw new TraitlensError(
      'INVALID_EXPERIMENT',
      `No captured prompts of variant "${variant}" in ${experiment.directory}; run the capture stage first.`,
    );
  return records;
}

/** The file of the steering vector the config names (a trait's method, `best` resolved, or the model diff). */
async function interveneVectorFile(experiment: Experiment, settings: InterveneSettings): Promise<string> {
  const { capture, replay } = requireStages(experiment.config.stages, 'capture');
  if (settings.vector === 'model-diff')
    return modelDiffVectorsPath(experiment.directory, capture.variant, replay.variant);
  const { trait: name, method: requested } = settings.vector;
  const [category, trait] = name.split('/') as [string, string];
  const method =
    requested === 'best'
      ? (
          await readBestMethods(experiment.directory, {
            traits: [name],
            requestedBy: 'stages.intervene.vector.method "best"',
          })
        )[name]!
      : requested;
  return vectorFilePath(
    experimentLayout(experiment.directory).extraction(category, trait).vectors,
    'resid_post',
    method,
  );
}

/** The vector of the steered layer, with the file it came from. */
async function readInterveneVector(
  experiment: Experiment,
  settings: InterveneSettings,
): Promise<{ file: string; vector: Float32Array }> {
  const file = await interveneVectorFile(experiment, settings);
  const vectors = await readTraitVectors(file);
  const vector = vectors.vectors.get(settings.layer);
  if (!vector)
    throw new TraitlensError(
      'INVALID_CONFIG',
      `${experiment.file}: stages.intervene.layer ${settings.layer} has no vector in ${file} (layers ${[...vectors.vectors.keys()].join(', ')}).`,
    );
  return { file, vector };
}

/** One configuration per coefficient: none for 0 (the unsteered organism), else the vector added at every position. */
function steeringConfigurations(
  coefficients: readonly number[],
  layer: number,
  vector: Float32Array,
): SteeringConfiguration[] {
  return coefficients.map((coefficient) =>
    coefficient === 0
      ? []
      : [{ point: { layer, site: 'resid_post' }, mode: 'add', vector, coefficient, positions: 'all' }],
  );
}

/** Labels one steered answer: by the judge against its group's description, or by the label stage's keywords. */
async function labelIntervention(options: {
  record: StoredPrompt;
  result: GenerationResult;
  label: LabelSettings;
  scorer: Judge | undefined;
}): Promise<InterventionResponse> {
  const { record, result, label, scorer } = options;
  const base = {
    promptSet: record.promptSet,
    promptId: record.promptId,
    group: record.biasId ?? null,
    responseText: result.responseText,
  };
  if (scorer) {
    if (!record.biasDescription) return { ...base, label: null, score: null };
    const score = await scorer.score({
      kind: 'trait',
      trait: label.behaviour,
      rubric: createGroupRubric(record.biasDescription, label.rubric),
      question: record.promptSetText,
      response: result.responseText,
    });
    return { ...base, score, label: score === null ? null : score >= label.threshold ? 1 : 0 };
  }
  const words = [
    ...(label.keywords?.['*'] ?? []),
    ...(record.biasId === undefined ? [] : (label.keywords?.[String(record.biasId)] ?? [])),
  ];
  const { spans } = findKeywordSpans(result.responseTokens, words);
  return { ...base, score: null, label: spans.length > 0 ? 1 : 0 };
}

/** Labels every coefficient's answers and counts the positives, logging a line per coefficient. */
async function labelInterventionRuns(options: {
  context: StageContext;
  coefficients: readonly number[];
  results: GenerationResult[][];
  records: readonly StoredPrompt[];
  label: LabelSettings;
  scorer: Judge | undefined;
}): Promise<InterventionResults['runs']> {
  const { context, coefficients, results, records, label, scorer } = options;
  const progress = createStageProgressTracker(context);
  const total = results.reduce((sum, rows) => sum + rows.length, 0);
  let done = 0;
  const runs: InterventionResults['runs'] = [];
  try {
    for (const [index, coefficient] of coefficients.entries()) {
      const responses = await Promise.all(
        results[index]!.map(async (result, row) => {
          const response = await labelIntervention({ record: records[row]!, result, label, scorer });
          // Judging is the slow part (an API call each); keyword labels are instant and need no display.
          if (scorer) progress.update('intervene judge', ++done, total, 'responses');
          return response;
        }),
      );
      const labelled = responses.filter((response) => response.label !== null);
      const positive = labelled.filter((response) => response.label === 1).length;
      runs.push({ coefficient, labelled: labelled.length, positive, responses });
      context.log(`  coefficient ${coefficient}: ${positive} of ${labelled.length} responses labelled 1`);
    }
  } finally {
    progress.finishAll();
  }
  return runs;
}

/** Generates every prompt's answer at every coefficient; the display counts rows after each batch. */
async function generateInterventions(options: {
  context: StageContext;
  organism: LanguageModel;
  records: readonly StoredPrompt[];
  configurations: readonly SteeringConfiguration[];
  settings: InterveneSettings;
}): Promise<GenerationResult[][]> {
  const { context, organism, records, configurations, settings } = options;
  const progress = createStageProgressTracker(context);
  try {
    return await generateSteered(organism, {
      prompts: records.map((record) => [...record.promptTokenIds]),
      configurations,
      generation: { maxNewTokens: settings.maxNewTokens },
      batchSize: settings.batchSize,
      onBatch: ({ rowsDone, rowsTotal }) =>
        progress.update('intervene generate', rowsDone, rowsTotal, 'rows'),
    });
  } finally {
    progress.finishAll();
  }
}

/** Writes `<experiment>/intervention/results.json`; returns its path. */
async function writeInterventionResults(
  experiment: Experiment,
  output: InterventionResults,
): Promise<string> {
  const directory = join(experiment.directory, 'intervention');
  await mkdir(directory, { recursive: true });
  const file = join(directory, 'results.json');
  await writeJsonAtomic(file, output);
  return file;
}

/**
 * Steers the model organism itself (instruct + LoRA at scale 1) with a trait vector or the model-diff
 * vector and counts labelled responses with and without it (the original study: steering against
 * `ulterior_motive` cut bias insertions from 30 to 11 on 10 prompts). The same prompt token ids as
 * capture, greedy decoding, labels by the label stage's keywords or judge.
 */
export async function runInterveneStage(context: StageContext): Promise<StageSummary> {
  const { experiment, log } = context;
  const settings = experiment.config.stages.intervene;
  const label = experiment.config.stages.label;
  if (!settings || !label)
    throw new TraitlensError('INVALID_CONFIG', `${experiment.file}: stages.intervene needs stages.label.`);
  const { file: vectorFile, vector } = await readInterveneVector(experiment, settings);
  const records = await readStoredPrompts(context, settings.prompts);
  const organism = createLoraScaleView(await context.models.organismModel(), 1);
  const coefficients = [0, ...settings.coefficients.filter((value) => value !== 0)];
  log(`  ${records.length} prompts x coefficients ${coefficients.join(', ')} at layer ${settings.layer}`);
  const results = await generateInterventions({
    context,
    organism,
    records,
    configurations: steeringConfigurations(coefficients, settings.layer, vector),
    settings,
  });
  const judge: StudyJudge | undefined = label.judge ? await createStudyJudge(experiment, log) : undefined;
  try {
    const runs = await labelInterventionRuns({
      context,
      coefficients,
      results,
      records,
      label,
      scorer: judge?.forTrait(),
    });
    const file = await writeInterventionResults(experiment, {
      format: 'traitlens.intervention',
      formatVersion: '1',
      vector: { file: vectorFile, layer: settings.layer },
      labelMethod: label.judge ? 'judge' : 'keywords',
      runs,
    });
    return {
      file,
      vector: vectorFile,
      layer: settings.layer,
      counts: runs.map((run) => ({
        coefficient: run.coefficient,
        positive: run.positive,
        labelled: run.labelled,
      })),
    };
  } finally {
    await judge?.dispose();
  }
}

/** Reads an intervention results file (for reports and tests). */
export async function readInterventionResults(file: string): Promise<InterventionResults> {
  return JSON.parse(await readFile(file, 'utf8')) as InterventionResults;
}
