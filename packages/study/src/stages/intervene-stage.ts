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
import { generateSteered } from '@traitlens/steering';
import { loadStudyPromptSets } from '../config/study-prompt-sets';
import { modelDiffVectorsPath } from '../diff/write-model-diff-vectors';
import { findKeywordSpans } from '../labels/find-keyword-spans';
import { createGroupRubric } from '../labels/group-rubric';
import { createLoraScaleView } from '../models/lora-scale-view';
import { createStudyJudge, type StudyJudge } from '../models/study-judge';
import type { StageContext, StageSummary } from './stage-context';

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

async function readStoredPrompts(
  context: StageContext,
  limit: number,
): Promise<(CapturedResponse & { promptSet: string })[]> {
  const { experiment } = context;
  const variant = experiment.config.stages.capture!.variant;
  const records: (CapturedResponse & { promptSet: string })[] = [];
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
  const layout = experimentLayout(experiment.directory);
  let vectorFile: string;
  if (settings.vector === 'model-diff') {
    vectorFile = modelDiffVectorsPath(
      experiment.directory,
      experiment.config.stages.capture!.variant,
      experiment.config.stages.replay.variant,
    );
  } else {
    const [category, trait] = settings.vector.trait.split('/') as [string, string];
    const method =
      settings.vector.method === 'best'
        ? (
            await readBestMethods(experiment.directory, {
              traits: [settings.vector.trait],
              requestedBy: 'stages.intervene.vector.method "best"',
            })
          )[settings.vector.trait]!
        : settings.vector.method;
    vectorFile = vectorFilePath(layout.extraction(category, trait).vectors, 'resid_post', method);
  }
  const vectors = await readTraitVectors(vectorFile);
  const vector = vectors.vectors.get(settings.layer);
  if (!vector)
    throw new TraitlensError(
      'INVALID_CONFIG',
      `${experiment.file}: stages.intervene.layer ${settings.layer} has no vector in ${vectorFile} (layers ${[...vectors.vectors.keys()].join(', ')}).`,
    );
  const records = await readStoredPrompts(context, settings.prompts);
  const organism = createLoraScaleView(await context.models.organismModel(), 1);
  const coefficients = [0, ...settings.coefficients.filter((value) => value !== 0)];
  log(`  ${records.length} prompts x coefficients ${coefficients.join(', ')} at layer ${settings.layer}`);
  const results = await generateSteered(organism, {
    prompts: records.map((record) => [...record.promptTokenIds]),
    configurations: coefficients.map((coefficient) =>
      coefficient === 0
        ? []
        : [
            {
              point: { layer: settings.layer, site: 'resid_post' },
              mode: 'add',
              vector,
              coefficient,
              positions: 'all',
            },
          ],
    ),
    generation: { maxNewTokens: settings.maxNewTokens },
    batchSize: settings.batchSize,
  });
  let judge: StudyJudge | undefined;
  let scorer: Judge | undefined;
  if (label.judge) {
    judge = await createStudyJudge(experiment, log);
    scorer = judge.forTrait();
  }
  try {
    const runs: InterventionResults['runs'] = [];
    for (const [index, coefficient] of coefficients.entries()) {
      const responses = await Promise.all(
        results[index]!.map(async (result, row): Promise<InterventionResponse> => {
          const record = records[row]!;
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
        }),
      );
      const labelled = responses.filter((response) => response.label !== null);
      const positive = labelled.filter((response) => response.label === 1).length;
      runs.push({ coefficient, labelled: labelled.length, positive, responses });
      log(`  coefficient ${coefficient}: ${positive} of ${labelled.length} responses labelled 1`);
    }
    const output: InterventionResults = {
      format: 'traitlens.intervention',
      formatVersion: '1',
      vector: { file: vectorFile, layer: settings.layer },
      labelMethod: label.judge ? 'judge' : 'keywords',
      runs,
    };
    const directory = join(experiment.directory, 'intervention');
    await mkdir(directory, { recursive: true });
    const file = join(directory, 'results.json');
    await writeJsonAtomic(file, output);
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
