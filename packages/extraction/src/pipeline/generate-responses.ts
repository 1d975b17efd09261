import { readFile } from 'node:fs/promises';
import { TraitlensError, writeJsonAtomic } from '@traitlens/core';
import {
  type ChatMessage,
  computeModelIdentity,
  type LanguageModel,
  type PromptInput,
} from '@traitlens/model-runtime';
import type { TraitDataset, TraitPrompt } from '../dataset/trait-dataset';
import type { TraitPolarity } from './extraction-progress';
import { compareResponseRecords, formatResponseRecordId, type ResponseRecord } from './response-record';
import { computeStageKey } from './stage-key';

/** How completions are drawn (docs/study-method.md §3.2). */
export interface GenerationSettings {
  /** 16 for base models (the study), 100-200 for instruct. */
  maxNewTokens: number;
  /** 0 = greedy (the study's choice). */
  temperature: number;
  topP?: number;
  /** Completions per prompt (useful with temperature > 0). */
  rollouts: number;
  /** Prompts per generate call. */
  batchSize: number;
  seed: number;
  /**
   * `raw`: the prompt text is completed as is (base models, natural elicitation); `chat`: system +
   * user messages through the chat template; `auto`: chat for the jsonl variant on a model with a chat
   * template, raw otherwise.
   */
  promptFormat: 'auto' | 'raw' | 'chat';
}

export const defaultGenerationSettings: GenerationSettings = {
  maxNewTokens: 16,
  temperature: 0,
  rollouts: 1,
  batchSize: 8,
  seed: 0,
  promptFormat: 'auto',
};

interface ResponsesFile {
  format: 'traitlens.extraction-responses';
  formatVersion: '1';
  key: string;
  polarity: TraitPolarity;
  settings: Record<string, unknown>;
  records: ResponseRecord[];
}

/** The prompt format actually used for a data set on a model. */
export function resolvePromptFormat(
  format: GenerationSettings['promptFormat'],
  dataset: TraitDataset,
  model: LanguageModel,
): 'raw' | 'chat' {
  if (format === 'chat' && !model.tokenizer.hasChatTemplate) {
    throw new TraitlensError(
      'CHAT_TEMPLATE_ERROR',
      `${model.id} has no chat template, so prompts cannot be formatted as chat; use --prompt-format raw (natural elicitation on a base model).`,
      {
        details: { model: model.id },
      },
    );
  }
  if (format !== 'auto') return format;
  return dataset.variant === 'jsonl' && model.tokenizer.hasChatTemplate ? 'chat' : 'raw';
}

function buildPromptInput(prompt: TraitPrompt, format: 'raw' | 'chat'): PromptInput {
  if (format === 'chat') {
    const messages: ChatMessage[] = [];
    if (prompt.systemPrompt) messages.push({ role: 'system', content: prompt.systemPrompt });
    messages.push({ role: 'user', content: prompt.text });
    return messages;
  }
  // A jsonl row completed raw: the system prompt is the opening paragraph of the document.
  return prompt.systemPrompt ? `${prompt.systemPrompt}\n\n${prompt.text}` : prompt.text;
}

async function readResponsesFile(path: string): Promise<ResponsesFile | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as ResponsesFile;
  } catch {
    return undefined;
  }
}

export interface GenerateResponsesOptions {
  model: LanguageModel;
  dataset: TraitDataset;
  polarity: TraitPolarity;
  /** Which prompts of the class to complete (all, or those scenario vetting kept). */
  promptIndices: readonly number[];
  settings: GenerationSettings;
  /** responses/<polarity>.json */
  file: string;
  force?: boolean;
  onProgress?: (completed: number, total: number, skipped: boolean) => void;
}

/**
 * Completes the prompts of one class in batches and saves the records after every batch, so an
 * interrupted run resumes where it stopped. Records from an earlier run with the same model, data set
 * and settings are reused.
 */
export async function generateResponses(options: GenerateResponsesOptions): Promise<ResponseRecord[]> {
  const { model, dataset, polarity, settings } = options;
  const format = resolvePromptFormat(settings.promptFormat, dataset, model);
  // The model by content: a shard that loads it from another folder reuses these records.
  const settingsRecord = {
    ...settings,
    promptFormat: format,
    model: await computeModelIdentity(model.id),
    dataset: dataset.hash,
  };
  const key = computeStageKey({ settingsRecord, polarity });
  const existing = options.force ? undefined : await readResponsesFile(options.file);
  const done = new Map<string, ResponseRecord>();
  if (existing?.key === key)
    for (const record of existing.records) done.set(formatResponseRecordId(record), record);
  const wanted = listWantedRollouts(options);
  const missing = wanted.filter(
    ({ prompt, rollout }) =>
      !done.has(formatResponseRecordId({ polarity, promptIndex: prompt.index, rollout })),
  );
  const total = wanted.length;
  options.onProgress?.(total - missing.length, total, missing.length === 0);
  const save = async (): Promise<void> => {
    const file: ResponsesFile = {
      format: 'traitlens.extraction-responses',
      formatVersion: '1',
      key,
      polarity,
      settings: settingsRecord,
      records: [...done.values()].sort(compareResponseRecords),
    };
    await writeJsonAtomic(options.file, file);
  };
  for (let start = 0; start < missing.length; start += settings.batchSize) {
    const batch = missing.slice(start, start + settings.batchSize);
    for (const record of await generateBatch(options, { batch, format }))
      done.set(formatResponseRecordId(record), record);
    await save();
    options.onProgress?.(
      total - missing.length + Math.min(missing.length, start + batch.length),
      total,
      false,
    );
  }
  if (missing.length === 0 && existing?.key !== key) await save();
  const wantedIds = new Set(
    wanted.map(({ prompt, rollout }) =>
      formatResponseRecordId({ polarity, promptIndex: prompt.index, rollout }),
    ),
  );
  return [...done.values()]
    .filter((record) => wantedIds.has(formatResponseRecordId(record)))
    .sort(compareResponseRecords);
}

interface WantedRollout {
  prompt: TraitPrompt;
  rollout: number;
}

/** Every (prompt, rollout) asked for, rollout-major; an index the class lacks is refused. */
function listWantedRollouts(options: GenerateResponsesOptions): WantedRollout[] {
  const { dataset, polarity } = options;
  const prompts = dataset[polarity];
  const wanted: WantedRollout[] = [];
  for (let rollout = 0; rollout < options.settings.rollouts; rollout++) {
    for (const index of options.promptIndices) {
      const prompt = prompts[index];
      if (!prompt)
        throw new TraitlensError('INVALID_ARGUMENT', `${dataset.name} has no ${polarity} prompt ${index}.`);
      wanted.push({ prompt, rollout });
    }
  }
  return wanted;
}

/**
 * One generate call per rollout of the batch; the seed mixes in the rollout and the batch's first prompt, so
 * rollouts and batches draw different random streams while a rerun with the same settings draws the same ones.
 */
async function generateBatch(
  options: GenerateResponsesOptions,
  work: { batch: readonly WantedRollout[]; format: ReturnType<typeof resolvePromptFormat> },
): Promise<ResponseRecord[]> {
  const { model, polarity, settings } = options;
  const records: ResponseRecord[] = [];
  for (const rollout of [...new Set(work.batch.map((item) => item.rollout))]) {
    const items = work.batch.filter((item) => item.rollout === rollout);
    const [first] = items;
    if (!first) continue;
    const results = await model.generate(
      items.map((item) => buildPromptInput(item.prompt, work.format)),
      {
        maxNewTokens: settings.maxNewTokens,
        temperature: settings.temperature,
        seed: settings.seed + rollout * 1_000_003 + first.prompt.index,
        ...(settings.topP !== undefined ? { topP: settings.topP } : {}),
      },
    );
    for (const [row, { prompt }] of items.entries()) {
      const result = results[row];
      if (!result) continue;
      const record: ResponseRecord = {
        polarity,
        promptIndex: prompt.index,
        rollout,
        prompt: prompt.text,
        promptTokenIds: result.promptTokenIds,
        responseTokenIds: result.responseTokenIds,
        responseText: result.responseText,
        finishReason: result.finishReason,
      };
      if (prompt.systemPrompt !== undefined) record.systemPrompt = prompt.systemPrompt;
      records.push(record);
    }
  }
  return records;
}
