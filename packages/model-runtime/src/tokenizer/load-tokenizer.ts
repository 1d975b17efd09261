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

/** Reads a JSON object; undefined when the file is absent and `required` is false. */
async function readJsonObject(
  path: string,
  required: boolean,
  code: TraitlensErrorCode,
): Promise<JsonObject | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' && !required) return undefined;
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new TraitlensError(
      code,
      missing
        ? `${path} is missing. A model directory needs a Hugging Face tokenizer.json (a slow-only SentencePiece model can be converted with transformers: AutoTokenizer.from_pretrained(dir).save_pretrained(dir)).`
        : `Cannot read ${path}: ${(error as Error).message}.`,
      { cause: error, details: { file: path } },
    );
  }
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
  const tokenizerConfigPath = join(directory, 'tokenizer_config.json');
  const tokenizerJson = (await readJsonObject(tokenizerPath, true, 'TOKENIZER_ERROR'))!;
  const tokenizerConfig = (await readJsonObject(tokenizerConfigPath, false, 'TOKENIZER_ERROR')) ?? {};
  const generationConfig =
    (await readJsonObject(join(directory, 'generation_config.json'), false, 'INVALID_CONFIG')) ?? {};
  const modelConfig = (await readJsonObject(join(directory, 'config.json'), false, 'INVALID_CONFIG')) ?? {};

  const cleanUpTokenizationSpaces = tokenizerConfig.clean_up_tokenization_spaces === true;
  let tokenizer: Tokenizer;
  try {
    // tokenizers.js reads clean-up and special-token settings from this object; clean-up defaults to
    // off (transformers' current default), not tokenizers.js's on.
    tokenizer = new Tokenizer(tokenizerJson, {
      ...tokenizerConfig,
      clean_up_tokenization_spaces: cleanUpTokenizationSpaces,
    });
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

  const idOf = (token: string | undefined): number | undefined =>
    token === undefined ? undefined : tokenizer.token_to_id(token);
  const bosToken =
    'bos_token' in tokenizerConfig
      ? specialTokenText(tokenizerConfig.bos_token)
      : tokenIdList(generationConfig.bos_token_id ?? modelConfig.bos_token_id).map((id) =>
          tokenizer.id_to_token(id),
        )[0];
  const bosTokenId = idOf(bosToken);
  const eosToken = specialTokenText(tokenizerConfig.eos_token);
  // Generation stops at any of these; Llama 3 Instruct lists several in generation_config.json.
  const eosTokenIds = [
    ...new Set([
      ...tokenIdList(generationConfig.eos_token_id),
      ...tokenIdList(modelConfig.eos_token_id),
      ...(idOf(eosToken) === undefined ? [] : [idOf(eosToken)!]),
    ]),
  ];

  let templateSource = selectChatTemplateSource(
    tokenizerConfig.chat_template,
    tokenizerConfigPath,
    options.chatTemplateName,
  );
  let templateLabel = tokenizerConfigPath;
  if (templateSource === undefined) {
    const jinjaPath = join(directory, 'chat_template.jinja');
    templateSource = await readFile(jinjaPath, 'utf8').catch(() => undefined);
    templateLabel = jinjaPath;
  }
  if (templateSource === undefined) {
    const jsonPath = join(directory, 'chat_template.json');
    const processorTemplate = await readJsonObject(jsonPath, false, 'CHAT_TEMPLATE_ERROR');
    templateSource = selectChatTemplateSource(
      processorTemplate?.chat_template,
      jsonPath,
      options.chatTemplateName,
    );
    templateLabel = jsonPath;
  }
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
  if (bosToken !== undefined) specialTokens.bos_token = bosToken;
  const chatTemplate =
    templateSource === undefined ? undefined : new ChatTemplate(templateSource, specialTokens, templateLabel);

  const flag = (value: unknown) => (typeof value === 'boolean' ? value : undefined);
  return new HuggingFaceTokenizer({
    tokenizer,
    bosToken,
    bosTokenId,
    eosTokenIds,
    addBosToken: flag(tokenizerConfig.add_bos_token),
    addEosToken: flag(tokenizerConfig.add_eos_token),
    cleanUpTokenizationSpaces,
    chatTemplate,
  });
}
