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
import { type InferencePaths, inferencePaths } from '../storage/inference-paths';
import { assertSameVariantSource } from '../variants/assert-same-variant-source';
import { describeVariant, type LoadedVariant } from '../variants/model-variant';
import { captureBatch } from './capture-batch';
import { type CaptureLockOptions, withCaptureLock } from './capture-lock';
import type { CaptureProgressEvent, CaptureStageSummary } from './capture-progress-event';
import {
  type CaptureStorage,
  type CaptureStorageOptions,
  isPromptOutputComplete,
  resolveCaptureStorage,
} from './capture-storage';
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
  maxNewTokens?: number | undefined;
  /** Prompts per batched generate call, default 8. */
  batchSize?: number | undefined;
  /**
   * `auto` (default): a user message through the chat template when the model has one, raw text
   * otherwise; `always` requires a template; `never` feeds raw text.
   */
  chatTemplate?: ChatTemplateUse | undefined;
  /** A system message before the user message (chat template only). */
  systemPrompt?: string | undefined;
  /** Regenerate and rewrite every prompt, even complete ones. */
  force?: boolean | undefined;
  /** Bound on what one forward pass copies out of the graph (bytes, default 1 GiB). */
  maxCaptureBytes?: number | undefined;
  onProgress?: ((event: CaptureProgressEvent) => void) | undefined;
}

/** A prompt waiting for generation, with its encoded prompt ids. */
interface PendingGeneration {
  prompt: PromptSetPrompt;
  promptTokenIds: number[];
}

function promptAnnotations(
  prompt: PromptSetPrompt,
): Pick<CapturedResponse, 'note' | 'biasId' | 'biasDescription' | 'promptFields'> {
  const annotations: Pick<CapturedResponse, 'note' | 'biasId' | 'biasDescription' | 'promptFields'> = {};
  if (prompt.note !== undefined) annotations.note = prompt.note;
  if (prompt.biasId !== undefined) annotations.biasId = prompt.biasId;
  if (prompt.biasDescription !== undefined) annotations.biasDescription = prompt.biasDescription;
  if (prompt.extraFields !== undefined) annotations.promptFields = prompt.extraFields;
  return annotations;
}

/** The prompt's ids: raw text, or a user message (after the system prompt) through the chat template. */
function encodePromptRow(run: CaptureRun, prompt: PromptSetPrompt): number[] {
  const { model } = run.options.variant;
  if (!run.generation.chatTemplate) return model.encodePrompt(prompt.text);
  const messages: ChatMessage[] = [];
  if (run.generation.systemPrompt !== undefined)
    messages.push({ role: 'system', content: run.generation.systemPrompt });
  messages.push({ role: 'user', content: prompt.text });
  return model.encodePrompt(messages, { addGenerationPrompt: true });
}

function toResponseRecord(
  run: CaptureRun,
  prompt: PromptSetPrompt,
  result: GenerationResult,
): CapturedResponse {
  const { variant, promptSet } = run.options;
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
    generation: run.generation,
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
    {
      stage: 'capture',
      root: paths.root,
      promptIds: options.promptSet.prompts.map((prompt) => prompt.id),
      description: `${options.variant.name}/${options.promptSet.id}`,
      lockWaitMs: options.lockWaitMs,
      onLockWait: options.onLockWait,
    },
    () => captureVariantLocked(options),
  );
}

/** The stage's settings, checked and resolved once, and its running counts. */
interface CaptureRun {
  options: CaptureVariantOptions;
  storage: CaptureStorage;
  paths: InferencePaths;
  batchSize: number;
  generation: GenerationSettings;
  total: number;
  /** Prompts done so far (skipped ones included). */
  done: number;
  generatedTokens: number;
}

async function captureVariantLocked(options: CaptureVariantOptions): Promise<CaptureStageSummary> {
  const started = performance.now();
  const run = planCapture(options);
  const { toForward, toGenerate, skipped } = await sortPrompts(run);
  run.done = skipped;
  const { variant, promptSet } = options;
  options.onProgress?.({
    type: 'start',
    stage: 'capture',
    variant: variant.name,
    promptSet: promptSet.id,
    total: run.total,
    skipped,
    missing: 0,
  });
  for (let first = 0; first < toForward.length; first += run.batchSize)
    await captureRecords(run, toForward.slice(first, first + run.batchSize));
  await generateAndCapture(run, toGenerate);
  return summarizeStage({
    stage: 'capture',
    variant,
    promptSet,
    paths: run.paths,
    total: run.total,
    skipped,
    written: toForward.length + toGenerate.length,
    generated: toGenerate.length,
    missing: 0,
    generatedTokens: run.generatedTokens,
    started,
  });
}

/** Checks the settings against the model and settles the generation settings every record stores. */
function planCapture(options: CaptureVariantOptions): CaptureRun {
  const { model } = options.variant;
  const storage = resolveCaptureStorage(options, model.config, model.id);
  const maxNewTokens = options.maxNewTokens ?? 128;
  const batchSize = options.batchSize ?? 8;
  for (const [name, value] of [
    ['maxNewTokens', maxNewTokens],
    ['batchSize', batchSize],
  ] as const)
    if (!Number.isInteger(value) || value <= 0)
      throw new TraitlensError('INVALID_ARGUMENT', `${name} must be a positive integer (got ${value}).`);
  const useChat = resolveChatUse(options);
  return {
    options,
    storage,
    paths: inferencePaths(options.experiment, options.variant.name, options.promptSet.id),
    batchSize,
    // Key order is that of the stored response files.
    generation: {
      maxNewTokens,
      chatTemplate: useChat,
      systemPrompt: options.systemPrompt,
      decoding: 'greedy',
    },
    total: options.promptSet.prompts.length,
    done: 0,
    generatedTokens: 0,
  };
}

/** Whether prompts go through the chat template, refusing settings the model cannot honour. */
function resolveChatUse(options: CaptureVariantOptions): boolean {
  const { model } = options.variant;
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
  return useChat;
}

/** Complete prompts are skipped, stored responses re-captured, the rest encoded for generation. */
async function sortPrompts(
  run: CaptureRun,
): Promise<{ toForward: CapturedResponse[]; toGenerate: PendingGeneration[]; skipped: number }> {
  const { variant, promptSet } = run.options;
  const toForward: CapturedResponse[] = [];
  const toGenerate: PendingGeneration[] = [];
  let skipped = 0;
  for (const prompt of promptSet.prompts) {
    const file = run.paths.responseFile(prompt.id);
    const stored = run.options.force ? undefined : await readCapturedResponse(file);
    if (stored) {
      assertSameVariantSource(stored, variant, file);
      if (await isPromptOutputComplete(run.paths, stored, run.storage)) skipped++;
      else toForward.push(stored);
      continue;
    }
    const promptTokenIds = encodePromptRow(run, prompt);
    assertPromptFits(run, prompt, promptTokenIds.length);
    toGenerate.push({ prompt, promptTokenIds });
  }
  return { toForward, toGenerate, skipped };
}

function assertPromptFits(run: CaptureRun, prompt: PromptSetPrompt, promptTokens: number): void {
  const { model } = run.options.variant;
  const { promptSet } = run.options;
  const { maxNewTokens } = run.generation;
  if (promptTokens + maxNewTokens <= model.config.maxPositionEmbeddings) return;
  const details: Record<string, unknown> = { promptId: prompt.id, promptTokens };
  if (promptSet.source) details.file = promptSet.source;
  throw new TraitlensError(
    'INVALID_ARGUMENT',
    `Prompt "${prompt.id}" of ${promptSet.source ?? promptSet.id} has ${promptTokens} tokens; with maxNewTokens ${maxNewTokens} it needs more than the ${model.config.maxPositionEmbeddings} positions of ${model.id}. Lower maxNewTokens or shorten the prompt.`,
    { details },
  );
}

async function captureRecords(run: CaptureRun, records: readonly CapturedResponse[]): Promise<void> {
  const { variant } = run.options;
  await captureBatch({
    variant,
    records,
    paths: run.paths,
    storage: run.storage,
    maxCaptureBytes: run.options.maxCaptureBytes,
    onWritten: (record) => {
      run.done++;
      run.options.onProgress?.({
        type: 'prompt',
        stage: 'capture',
        variant: variant.name,
        promptId: record.promptId,
        done: run.done,
        total: run.total,
      });
    },
  });
}

/** Greedy generation in batches of similar prompt lengths; each response is saved, then captured. */
async function generateAndCapture(run: CaptureRun, pending: readonly PendingGeneration[]): Promise<void> {
  const { variant } = run.options;
  // Similar lengths in one batch waste less compute on padding; the order of files does not matter.
  const ordered = [...pending].sort((a, b) => a.promptTokenIds.length - b.promptTokenIds.length);
  for (let first = 0; first < ordered.length; first += run.batchSize) {
    const batch = ordered.slice(first, first + run.batchSize);
    const results = await variant.model.generate(
      batch.map((entry) => entry.promptTokenIds),
      {
        maxNewTokens: run.generation.maxNewTokens,
        temperature: 0,
        loraScale: variant.loraScale,
        onToken: () => {
          run.generatedTokens++;
          run.options.onProgress?.({
            type: 'tokens',
            stage: 'capture',
            variant: variant.name,
            generatedTokens: run.generatedTokens,
          });
        },
      },
    );
    const records = results.map((result, index) => toResponseRecord(run, batch[index]!.prompt, result));
    // The response is saved before its activations: a crash in between resumes from the stored ids.
    for (const record of records)
      await writeCapturedResponse(run.paths.responseFile(record.promptId), record);
    await captureRecords(run, records);
  }
}
