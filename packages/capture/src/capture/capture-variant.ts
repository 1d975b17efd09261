import { TraitlensError } from '@traitlens/core';
import type { ChatMessage, GenerationResult } from '@traitlens/model-runtime';
import type { PromptSet, PromptSetPrompt } from '../prompt-set/prompt-set';
import {
  type CapturedResponse,
  capturedResponseFormat,
  capturedResponseFormatVersion,
  type GenerationSettings,
  readCapturedResponse,
  writeCapturedResponse,
} from '../storage/captured-response';
import { inferencePaths } from '../storage/inference-paths';
import { assertSameVariantSource } from '../variants/assert-same-variant-source';
import { describeVariant, type LoadedVariant } from '../variants/model-variant';
import { type CaptureLockOptions, withCaptureLock } from './capture-lock';
import type { CaptureProgressEvent, CaptureStageSummary } from './capture-progress-event';
import {
  type CaptureStorageOptions,
  isPromptOutputComplete,
  resolveCaptureStorage,
  writePromptOutputs,
} from './capture-storage';
import { defaultMaxCaptureBytes, forwardCaptures } from './forward-captures';
import { summarizeStage } from './summarize-stage';

/** When to wrap the prompt text as a chat user message. */
export type ChatTemplateUse = 'auto' | 'always' | 'never';

export interface CaptureVariantOptions extends CaptureStorageOptions, CaptureLockOptions {
  /** The experiment folder (`experiments/<name>`). */
  experiment: string;
  promptSet: PromptSet;
  /** The variant that generates (the model organism, e.g. the LoRA model). */
  variant: LoadedVariant;
  /** Tokens generated per prompt (greedy), default 128. */
  maxNewTokens?: number;
  /** Prompts per batched generate call, default 8. */
  batchSize?: number;
  /**
   * `auto` (default): a user message through the chat template when the model has one, raw text
   * otherwise; `always` requires a template; `never` feeds raw text.
   */
  chatTemplate?: ChatTemplateUse;
  /** A system message before the user message (chat template only). */
  systemPrompt?: string;
  /** Regenerate and rewrite every prompt, even complete ones. */
  force?: boolean;
  /** Bound on what one forward pass copies out of the graph (bytes, default 1 GiB). */
  maxCaptureBytes?: number;
  onProgress?: (event: CaptureProgressEvent) => void;
}

/** A prompt waiting for generation, with its encoded prompt ids. */
interface PendingGeneration {
  prompt: PromptSetPrompt;
  promptTokenIds: number[];
}

function promptAnnotations(
  prompt: PromptSetPrompt,
): Pick<CapturedResponse, 'note' | 'biasId' | 'biasDescription' | 'promptFields'> {
  return {
    ...(prompt.note === undefined ? {} : { note: prompt.note }),
    ...(prompt.biasId === undefined ? {} : { biasId: prompt.biasId }),
    ...(prompt.biasDescription === undefined ? {} : { biasDescription: prompt.biasDescription }),
    ...(prompt.extraFields === undefined ? {} : { promptFields: prompt.extraFields }),
  };
}

function encodePromptRow(
  variant: LoadedVariant,
  prompt: PromptSetPrompt,
  useChat: boolean,
  systemPrompt: string | undefined,
): number[] {
  if (!useChat) return variant.model.encodePrompt(prompt.text);
  const messages: ChatMessage[] = [];
  if (systemPrompt !== undefined) messages.push({ role: 'system', content: systemPrompt });
  messages.push({ role: 'user', content: prompt.text });
  return variant.model.encodePrompt(messages, { addGenerationPrompt: true });
}

function toResponseRecord(
  prompt: PromptSetPrompt,
  promptSet: PromptSet,
  variant: LoadedVariant,
  result: GenerationResult,
  generation: GenerationSettings,
): CapturedResponse {
  return {
    format: capturedResponseFormat,
    formatVersion: capturedResponseFormatVersion,
    promptId: prompt.id,
    promptSet: promptSet.id,
    ...describeVariant(variant),
    promptSetText: prompt.text,
    promptText: result.promptText,
    responseText: result.responseText,
    promptTokenIds: result.promptTokenIds,
    responseTokenIds: result.responseTokenIds,
    promptTokens: result.promptTokens,
    responseTokens: result.responseTokens,
    finishReason: result.finishReason,
    generation,
    ...promptAnnotations(prompt),
  };
}

/**
 * The capture stage for one variant (docs/study-method.md §5, steps 1-2): for every prompt of the set, greedy
 * generation (batched), then ONE forward pass over prompt + response ids that captures the chosen hook
 * points, split at the prompt length (so the last generated token keeps its activation). Writes
 * `responses/<id>.json` (texts, ids, per-token strings) and `activations/<id>.safetensors` (+ `.json`
 * twin) and/or `projections/<id>.safetensors` under `inference/<variant>/<prompt_set>/`.
 *
 * Resumable: a prompt whose files are complete is skipped; one whose response exists but whose
 * activation/projection file is missing or stale is re-captured from the stored ids without
 * regenerating. `force` regenerates everything.
 */
export async function captureVariant(options: CaptureVariantOptions): Promise<CaptureStageSummary> {
  const paths = inferencePaths(options.experiment, options.variant.name, options.promptSet.id);
  return withCaptureLock(
    'capture',
    paths.root,
    options.promptSet.prompts.map((prompt) => prompt.id),
    `${options.variant.name}/${options.promptSet.id}`,
    options,
    () => captureVariantLocked(options),
  );
}

async function captureVariantLocked(options: CaptureVariantOptions): Promise<CaptureStageSummary> {
  const started = performance.now();
  const { variant, promptSet } = options;
  const { model } = variant;
  const storage = resolveCaptureStorage(options, model.config, model.id);
  const paths = inferencePaths(options.experiment, variant.name, promptSet.id);
  const maxNewTokens = options.maxNewTokens ?? 128;
  const batchSize = options.batchSize ?? 8;
  for (const [name, value] of [
    ['maxNewTokens', maxNewTokens],
    ['batchSize', batchSize],
  ] as const)
    if (!Number.isInteger(value) || value <= 0)
      throw new TraitlensError('INVALID_ARGUMENT', `${name} must be a positive integer (got ${value}).`);
  const chatTemplate = options.chatTemplate ?? 'auto';
  const hasTemplate = model.tokenizer.hasChatTemplate;
  if (chatTemplate === 'always' && !hasTemplate)
    throw new TraitlensError(
      'CHAT_TEMPLATE_ERROR',
      `${model.id} has no chat template, so prompts cannot be wrapped as user messages; use chatTemplate 'auto' or 'never' (raw text) or an instruct model.`,
    );
  const useChat = chatTemplate === 'always' || (chatTemplate === 'auto' && hasTemplate);
  if (options.systemPrompt !== undefined && !useChat)
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      `A system prompt needs the chat template, but prompts to ${model.id} are fed as raw text (${hasTemplate ? "chatTemplate is 'never'" : 'the model has no chat template'}).`,
    );
  const generation: GenerationSettings = {
    maxNewTokens,
    chatTemplate: useChat,
    ...(options.systemPrompt === undefined ? {} : { systemPrompt: options.systemPrompt }),
    decoding: 'greedy',
  };

  const total = promptSet.prompts.length;
  const toForward: CapturedResponse[] = [];
  const toGenerate: PendingGeneration[] = [];
  let skipped = 0;
  for (const prompt of promptSet.prompts) {
    const stored = options.force ? undefined : await readCapturedResponse(paths.responseFile(prompt.id));
    if (stored) {
      assertSameVariantSource(stored, variant, paths.responseFile(prompt.id));
      if (await isPromptOutputComplete(paths, stored, storage)) skipped++;
      else toForward.push(stored);
      continue;
    }
    const promptTokenIds = encodePromptRow(variant, prompt, useChat, options.systemPrompt);
    if (promptTokenIds.length + maxNewTokens > model.config.maxPositionEmbeddings)
      throw new TraitlensError(
        'INVALID_ARGUMENT',
        `Prompt "${prompt.id}" of ${promptSet.source ?? promptSet.id} has ${promptTokenIds.length} tokens; with maxNewTokens ${maxNewTokens} it needs more than the ${model.config.maxPositionEmbeddings} positions of ${model.id}. Lower maxNewTokens or shorten the prompt.`,
        {
          details: {
            promptId: prompt.id,
            promptTokens: promptTokenIds.length,
            ...(promptSet.source ? { file: promptSet.source } : {}),
          },
        },
      );
    toGenerate.push({ prompt, promptTokenIds });
  }
  let done = skipped;
  let generated = 0;
  let generatedTokens = 0;
  options.onProgress?.({
    type: 'start',
    stage: 'capture',
    variant: variant.name,
    promptSet: promptSet.id,
    total,
    skipped,
    missing: 0,
  });

  const captureAndWrite = async (records: readonly CapturedResponse[]) => {
    const captures = await forwardCaptures(
      variant,
      records.map((record) => [...record.promptTokenIds, ...record.responseTokenIds]),
      { capture: storage.capturePoints, project: storage.graphProjections },
      options.maxCaptureBytes ?? defaultMaxCaptureBytes,
      records.map((record) => record.promptId),
    );
    for (let index = 0; index < records.length; index++) {
      await writePromptOutputs(paths, records[index]!, captures[index]!, storage, model.config.hiddenSize);
      done++;
      options.onProgress?.({
        type: 'prompt',
        stage: 'capture',
        variant: variant.name,
        promptId: records[index]!.promptId,
        done,
        total,
      });
    }
  };

  for (let first = 0; first < toForward.length; first += batchSize)
    await captureAndWrite(toForward.slice(first, first + batchSize));

  // Similar lengths in one batch waste less compute on padding; the order of files does not matter.
  const ordered = [...toGenerate].sort((a, b) => a.promptTokenIds.length - b.promptTokenIds.length);
  for (let first = 0; first < ordered.length; first += batchSize) {
    const batch = ordered.slice(first, first + batchSize);
    const results = await model.generate(
      batch.map((entry) => entry.promptTokenIds),
      {
        maxNewTokens,
        temperature: 0,
        ...(variant.loraScale === undefined ? {} : { loraScale: variant.loraScale }),
        onToken: () => {
          generatedTokens++;
          options.onProgress?.({ type: 'tokens', stage: 'capture', variant: variant.name, generatedTokens });
        },
      },
    );
    const records = batch.map((entry, index) =>
      toResponseRecord(entry.prompt, promptSet, variant, results[index]!, generation),
    );
    // The response is saved before its activations: a crash in between resumes from the stored ids.
    for (const record of records) await writeCapturedResponse(paths.responseFile(record.promptId), record);
    generated += records.length;
    await captureAndWrite(records);
  }
  return summarizeStage('capture', variant, promptSet, paths, {
    total,
    skipped,
    written: toForward.length + toGenerate.length,
    generated,
    missing: 0,
    generatedTokens,
    started,
  });
}
