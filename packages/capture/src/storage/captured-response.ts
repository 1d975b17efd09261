import { readFile } from 'node:fs/promises';
import { TraitlensError, writeJsonAtomic } from '@traitlens/core';

export const capturedResponseFormat = 'traitlens.response';
export const capturedResponseFormatVersion = '1';

/** How a response was generated (replayed variants copy it from the variant that generated). */
export interface GenerationSettings {
  maxNewTokens: number;
  /** Whether the prompt text was wrapped as a user message with the model's chat template. */
  chatTemplate: boolean;
  systemPrompt?: string | undefined;
  decoding: 'greedy';
}

/**
 * One prompt's texts and token ids for one variant: `responses/<prompt_id>.json`. It is the source of
 * truth for the token ids: activation and projection files must carry the same ids, and a replayed
 * variant copies them unchanged.
 */
export interface CapturedResponse {
  format: typeof capturedResponseFormat;
  formatVersion: string;
  promptId: string;
  promptSet: string;
  variant: string;
  /** The model that ran this variant (`hf:org/name@sha` or a folder). */
  model: string;
  lora?: string;
  loraScale?: number;
  /**
   * Model and adapter by content (`hf:org/name@<commit>` or `sha256:...`); resuming compares these, so
   * a folder written by shards that loaded the model from different paths resumes. Absent in files
   * written before traitlens recorded it.
   */
  identity?: { model: string; lora?: string | undefined } | undefined;
  /** The prompt set's text, before any chat template. */
  promptSetText: string;
  /** The prompt tokens decoded with special tokens (the chat-templated prompt for chat models). */
  promptText: string;
  responseText: string;
  promptTokenIds: number[];
  responseTokenIds: number[];
  /** Per-token strings, one per id. */
  promptTokens: string[];
  responseTokens: string[];
  finishReason: 'stop_token' | 'stop_string' | 'length';
  generation: GenerationSettings;
  /** Set on a replayed variant: the variant whose generated tokens were fed through this one. */
  replayOf?: { variant: string; model: string; lora?: string; loraScale?: number };
  note?: string;
  biasId?: number | undefined;
  biasDescription?: string | undefined;
  /** Other fields of the prompt-set entry, verbatim. */
  promptFields?: Record<string, unknown>;
}

export async function writeCapturedResponse(path: string, response: CapturedResponse): Promise<void> {
  await writeJsonAtomic(path, response);
}

function isTokenIdList(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((id) => Number.isInteger(id) && id >= 0);
}

function isStringList(value: unknown, length: number): value is string[] {
  return Array.isArray(value) && value.length === length && value.every((item) => typeof item === 'string');
}

/**
 * Reads a response file; undefined when it does not exist. A file that exists but is not a response
 * record (edited by hand, another tool's) is an INVALID_EXPERIMENT error naming the field.
 */
export async function readCapturedResponse(path: string): Promise<CapturedResponse | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new TraitlensError('INVALID_EXPERIMENT', `Cannot read ${path}.`, {
      cause,
      details: { file: path },
    });
  }
  const invalid = (problem: string, cause?: unknown) =>
    new TraitlensError(
      'INVALID_EXPERIMENT',
      `${path} is not a traitlens response file: ${problem}. Delete it (or re-run with --force) to capture the prompt again.`,
      { details: { file: path }, cause },
    );
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(text) as Record<string, unknown>;
  } catch (cause) {
    throw invalid('not valid JSON', cause);
  }
  if (typeof value !== 'object' || value === null) throw invalid('not a JSON object');
  if (value.format !== capturedResponseFormat) throw invalid(`"format" is not "${capturedResponseFormat}"`);
  for (const field of ['promptTokenIds', 'responseTokenIds'] as const)
    if (!isTokenIdList(value[field])) throw invalid(`"${field}" is not a list of token ids`);
  const promptCount = (value.promptTokenIds as number[]).length;
  const responseCount = (value.responseTokenIds as number[]).length;
  if (!isStringList(value.promptTokens, promptCount))
    throw invalid(`"promptTokens" is not one string per prompt token id (${promptCount})`);
  if (!isStringList(value.responseTokens, responseCount))
    throw invalid(`"responseTokens" is not one string per response token id (${responseCount})`);
  for (const field of [
    'promptId',
    'variant',
    'model',
    'promptText',
    'responseText',
    'promptSetText',
  ] as const)
    if (typeof value[field] !== 'string') throw invalid(`"${field}" is not a string`);
  return value as unknown as CapturedResponse;
}
