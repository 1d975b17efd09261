import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { TraitlensError, type TraitlensErrorCode } from '@traitlens/core';
import { ChatTemplate, selectChatTemplateSource } from './chat-template';
import { HuggingFaceTokenizer } from './hugging-face-tokenizer';

export interface LoadTokenizerOptions {
  /** For a tokenizer_config with several named chat templates: which one (default "default"). */
  chatTemplateName?: string;
}

type JsonObject = Record<string, unknown>;

/** Reads a JSON object that must exist. */
async function readJsonObject(path: string, code: TraitlensErrorCode): Promise<JsonObject> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw unreadableError(path, code, error);
  }
  return parseJsonObject(path, text, code);
}

/** Reads a JSON object; undefined when the file is absent. */
async function readOptionalJsonObject(
  path: string,
  code: TraitlensErrorCode,
): Promise<JsonObject | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw unreadableError(path, code, error);
  }
  return parseJsonObject(path, text, code);
}

function unreadableError(path: string, code: TraitlensErrorCode, error: unknown): TraitlensError {
  const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
  return new TraitlensError(
    code,
    missing
      ? `${path} is missing. A model directory needs a Hugging Face tokenizer.json (a slow-only SentencePiece model can be converted with transformers: AutoTokenizer.from_pretrained(dir).save_pretrained(dir)).`
      : `Cannot read ${path}: ${(error as Error).message}.`,
    { cause: error, details: { file: path } },
  );
}

function parseJsonObject(path: string, text: string, code: TraitlensErrorCode): JsonObject {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new TraitlensError(
      code,
      `${path} is not valid JSON (${(error as Error).message}); re-download or re-save the file.`,
      {
        cause: error,
        details: { file: path },
      },
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TraitlensError(code, `${path} must hold a JSON object.`, { details: { file: path } });
  }
  return value as JsonObject;
}

/** A special token in tokenizer_config: a string, an AddedToken dict `{ content }`, or null. */
function specialTokenText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null && typeof (value as JsonObject).content === 'string') {
    return (value as JsonObject).content as string;
  }
  return undefined;
}

function tokenIdList(value: unknown): number[] {
  if (typeof value === 'number' && Number.isInteger(value)) return [value];
  if (Array.isArray(value))
    return value.filter((id): id is number => typeof id === 'number' && Number.isInteger(id));
  return [];
}

/**
 * Loads the tokenizer of a Hugging Face model directory: tokenizer.json (required), tokenizer_config.json
 * (special tokens, add_bos_token, chat_template), the chat template from tokenizer_config or
 * chat_template.jinja / chat_template.json, and the end-of-sequence ids from generation_config.json and
 * config.json.
 */
export async function loadTokenizer(
  directory: string,
  options: LoadTokenizerOptions = {},
): Promise<HuggingFaceTokenizer> {
  const tokenizerPath = join(directory, 'tokenizer.json');
  const tokenizerJson = await readJsonObject(tokenizerPath, 'TOKENIZER_ERROR');
  const configs: TokenizerConfigs = {
    tokenizer:
      (await readOptionalJsonObject(join(directory, 'tokenizer_config.json'), 'TOKENIZER_ERROR')) ?? {},
    generation:
      (await readOptionalJsonObject(join(directory, 'generation_config.json'), 'INVALID_CONFIG')) ?? {},
    model: (await readOptionalJsonObject(join(directory, 'config.json'), 'INVALID_CONFIG')) ?? {},
  };
  const cleanUpTokenizationSpaces = configs.tokenizer.clean_up_tokenization_spaces === true;
  const tokenizer = buildTokenizer(tokenizerPath, tokenizerJson, {
    ...configs.tokenizer,
    clean_up_tokenization_spaces: cleanUpTokenizationSpaces,
  });
  const specialIds = resolveSpecialTokenIds(tokenizer, configs);
  const flag = (value: unknown) => (typeof value === 'boolean' ? value : undefined);
  return new HuggingFaceTokenizer({
    tokenizer,
    ...specialIds,
    addBosToken: flag(configs.tokenizer.add_bos_token),
    addEosToken: flag(configs.tokenizer.add_eos_token),
    cleanUpTokenizationSpaces,
    chatTemplate: await loadChatTemplate(directory, {
      tokenizerConfig: configs.tokenizer,
      bosToken: specialIds.bosToken,
      name: options.chatTemplateName,
    }),
  });
}

/** tokenizer_config.json, generation_config.json and config.json (each `{}` when absent). */
interface TokenizerConfigs {
  tokenizer: JsonObject;
  generation: JsonObject;
  model: JsonObject;
}

/**
 * tokenizers.js reads clean-up and special-token settings from the config object; clean-up defaults to off
 * (transformers' current default), not tokenizers.js's on.
 */
function buildTokenizer(tokenizerPath: string, tokenizerJson: JsonObject, config: JsonObject): Tokenizer {
  try {
    return new Tokenizer(tokenizerJson, config);
  } catch (error) {
    throw new TraitlensError(
      'TOKENIZER_ERROR',
      `Cannot build a tokenizer from ${tokenizerPath}: ${(error as Error).message}.`,
      {
        cause: error,
        details: { file: tokenizerPath },
      },
    );
  }
}

/** BOS from tokenizer_config (else the configs' bos_token_id); generation stops at every EOS id any file names. */
function resolveSpecialTokenIds(
  tokenizer: Tokenizer,
  configs: TokenizerConfigs,
): { bosToken: string | undefined; bosTokenId: number | undefined; eosTokenIds: number[] } {
  const idOf = (token: string | undefined): number | undefined =>
    token === undefined ? undefined : tokenizer.token_to_id(token);
  const bosToken =
    'bos_token' in configs.tokenizer
      ? specialTokenText(configs.tokenizer.bos_token)
      : tokenIdList(configs.generation.bos_token_id ?? configs.model.bos_token_id).map((id) =>
          tokenizer.id_to_token(id),
        )[0];
  const eosTokenId = idOf(specialTokenText(configs.tokenizer.eos_token));
  // Llama 3 Instruct lists several in generation_config.json.
  const eosTokenIds = [
    ...new Set([
      ...tokenIdList(configs.generation.eos_token_id),
      ...tokenIdList(configs.model.eos_token_id),
      ...(eosTokenId === undefined ? [] : [eosTokenId]),
    ]),
  ];
  return { bosToken, bosTokenId: idOf(bosToken), eosTokenIds };
}

/** The chat template from tokenizer_config, else chat_template.jinja, else chat_template.json. */
async function loadChatTemplate(
  directory: string,
  options: { tokenizerConfig: JsonObject; bosToken: string | undefined; name: string | undefined },
): Promise<ChatTemplate | undefined> {
  const { tokenizerConfig } = options;
  const tokenizerConfigPath = join(directory, 'tokenizer_config.json');
  let templateSource = selectChatTemplateSource(
    tokenizerConfig.chat_template,
    tokenizerConfigPath,
    options.name,
  );
  let templateLabel = tokenizerConfigPath;
  if (templateSource === undefined) {
    const jinjaPath = join(directory, 'chat_template.jinja');
    templateSource = await readFile(jinjaPath, 'utf8').catch(() => undefined);
    templateLabel = jinjaPath;
  }
  if (templateSource === undefined) {
    const jsonPath = join(directory, 'chat_template.json');
    const processorTemplate = await readOptionalJsonObject(jsonPath, 'CHAT_TEMPLATE_ERROR');
    templateSource = selectChatTemplateSource(processorTemplate?.chat_template, jsonPath, options.name);
    templateLabel = jsonPath;
  }
  if (templateSource === undefined) return undefined;
  const specialTokens: Record<string, string> = {};
  for (const key of [
    'bos_token',
    'eos_token',
    'unk_token',
    'pad_token',
    'sep_token',
    'cls_token',
    'mask_token',
  ]) {
    const text = specialTokenText(tokenizerConfig[key]);
    if (text !== undefined) specialTokens[key] = text;
  }
  if (options.bosToken !== undefined) specialTokens.bos_token = options.bosToken;
  return new ChatTemplate(templateSource, specialTokens, templateLabel);
}
