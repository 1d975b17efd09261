/**
 * TEST-ONLY fake of the runtime's `LanguageModel` (the one fake every package's unit tests use), for
 * tests that must not depend on a real model. Tokens are characters (id = char code + 3, BOS = 1,
 * EOS = 2); `generate` answers through a function the test supplies, which sees the steering each row
 * received; `forward` returns the activations the test supplies, by default residual vectors of a
 * fixed norm (the BOS position gets a much larger norm, as real attention sinks do). Every call is
 * recorded, and `failOnForwardCall` simulates a crash.
 */
import { formatHookPoint, type HookPoint } from '@traitlens/core';
import type { LanguageModel, TextTokenizer } from '../model/language-model';
import type {
  ForwardOptions,
  ForwardRow,
  GenerateOptions,
  GenerationResult,
  ModelConfig,
  PromptInput,
  SteeringSpec,
} from '../model/model-types';

export interface RowSteering {
  spec: SteeringSpec;
  /** The coefficient this row received. */
  coefficient: number;
}

export interface FakeModelOptions {
  /** Model id (default `fake:model`). */
  id?: string;
  hiddenSize?: number;
  layerCount?: number;
  /**
   * The activations `forward` returns at a captured point, [tokens, hidden] row-major; by default a
   * vector of norm `residualNorm` per token (20x that at BOS).
   */
  activations?: (context: { tokenIds: readonly number[]; point: HookPoint }) => Float32Array;
  /** Norm of every non-BOS residual vector returned by `forward`. */
  residualNorm?: number;
  /** The response text for one row. */
  respond?: (context: { prompt: string; steering: RowSteering[] }) => string;
  hasChatTemplate?: boolean;
  /** `score` result for one row; defaults to a uniform distribution. */
  score?: (tokenIds: readonly number[]) => Float32Array;
}

export interface FakeLanguageModel extends LanguageModel {
  readonly generateCalls: { rows: number; steer: readonly SteeringSpec[] }[];
  /** Every forward call (counted before `failOnForwardCall` throws), with each row's token ids. */
  readonly forwardCalls: { rows: number; options: ForwardOptions | undefined; tokenIds: number[][] }[];
  /** Throw on this forward call (1-based), to simulate an interrupted run. */
  failOnForwardCall: number | undefined;
}

const bos = 1;
const eos = 2;
const vocabSize = 300;

export function createFakeLanguageModel(options: FakeModelOptions = {}): FakeLanguageModel {
  const hiddenSize = options.hiddenSize ?? 8;
  const tokenizer = fakeTokenizer({ hasChatTemplate: options.hasChatTemplate ?? false });
  const prompts = fakePrompts(tokenizer);
  const { encodePrompt, promptText, asList } = prompts;
  const generateCalls: FakeLanguageModel['generateCalls'] = [];
  const forwardCalls: FakeLanguageModel['forwardCalls'] = [];
  const activations = options.activations ?? defaultActivations(hiddenSize, options.residualNorm ?? 10);
  const model: FakeLanguageModel = {
    id: options.id ?? 'fake:model',
    failOnForwardCall: undefined,
    config: fakeConfig(hiddenSize, options.layerCount ?? 4),
    tokenizer,
    generateCalls,
    forwardCalls,
    encodePrompt,
    applyChatTemplate: prompts.applyChatTemplate,
    async forward(inputs, forwardOptions) {
      const rows = asList(inputs).map(encodePrompt);
      forwardCalls.push({ rows: rows.length, options: forwardOptions, tokenIds: rows });
      if (model.failOnForwardCall === forwardCalls.length) throw new Error('simulated crash during forward');
      return rows.map((tokenIds): ForwardRow => {
        const captures = new Map<string, Float32Array>();
        for (const point of forwardOptions?.capture ?? [])
          captures.set(formatHookPoint(point), activations({ tokenIds, point }));
        return { tokenIds, logits: new Float32Array(0), captures };
      });
    },
    async score(inputs) {
      return asList(inputs).map((prompt) => {
        const ids = encodePrompt(prompt);
        if (options.score) return options.score(ids);
        return new Float32Array(vocabSize).fill(-Math.log(vocabSize));
      });
    },
    async generate(inputs, generateOptions?: GenerateOptions) {
      const rows = asList(inputs);
      const steer = generateOptions?.steer ?? [];
      generateCalls.push({ rows: rows.length, steer });
      return rows.map((prompt, row): GenerationResult => {
        const steering = steer.map((spec) => ({ spec, coefficient: rowCoefficient(spec, row) }));
        const fullText = (options.respond ?? (() => 'ok'))({ prompt: promptText(prompt), steering });
        return fakeGeneration(prompts, { prompt, fullText, maxNewTokens: generateOptions?.maxNewTokens });
      });
    },
    async dispose() {},
  };
  return model;
}

/** Characters as tokens: id = char code + 3 (capped below the vocabulary size), BOS = 1, EOS = 2. */
function fakeTokenizer(settings: { hasChatTemplate: boolean }): TextTokenizer {
  return {
    encode: (text, encodeOptions) => [
      ...(encodeOptions?.addSpecialTokens === false ? [] : [bos]),
      ...[...text].map((character) => Math.min(character.charCodeAt(0), vocabSize - 4) + 3),
    ],
    decode: (ids) =>
      ids
        .filter((id) => id > 2)
        .map((id) => String.fromCharCode(id - 3))
        .join(''),
    tokenStrings: (ids) => ids.map((id) => (id > 2 ? String.fromCharCode(id - 3) : '')),
    bosTokenId: bos,
    eosTokenIds: [eos],
    vocabSize,
    hasChatTemplate: settings.hasChatTemplate,
  };
}

function fakeConfig(hiddenSize: number, layerCount: number): ModelConfig {
  return {
    architecture: 'FakeForCausalLM',
    modelType: 'fake',
    hiddenSize,
    intermediateSize: hiddenSize * 2,
    layerCount,
    headCount: 1,
    kvHeadCount: 1,
    headDim: hiddenSize,
    vocabSize,
    rmsNormEps: 1e-5,
    ropeTheta: 10000,
    ropeScaling: undefined,
    maxPositionEmbeddings: 512,
    tieWordEmbeddings: true,
    attentionBias: false,
    qkNorm: false,
    bosTokenId: bos,
    eosTokenIds: [eos],
    padTokenId: undefined,
    slidingWindow: undefined,
  };
}

/** How the fake reads prompts: text, token ids or chat messages, one or a list. */
interface FakePrompts {
  tokenizer: TextTokenizer;
  applyChatTemplate(messages: readonly { role: string; content: string }[]): string;
  promptText(prompt: PromptInput): string;
  encodePrompt(prompt: PromptInput): number[];
  asList(inputs: PromptInput | readonly PromptInput[]): PromptInput[];
}

function fakePrompts(tokenizer: TextTokenizer): FakePrompts {
  const applyChatTemplate = (messages: readonly { role: string; content: string }[]) =>
    messages.map((message) => `<${message.role}>${message.content}`).join('') + '<assistant>';
  const promptText = (prompt: PromptInput): string => {
    if (typeof prompt === 'string') return prompt;
    if (prompt.length > 0 && typeof prompt[0] === 'number')
      return tokenizer.decode(prompt as readonly number[]);
    return applyChatTemplate(prompt as readonly { role: string; content: string }[]);
  };
  return {
    tokenizer,
    applyChatTemplate,
    promptText,
    encodePrompt: (prompt) => {
      if (typeof prompt !== 'string' && prompt.length > 0 && typeof prompt[0] === 'number')
        return [...(prompt as readonly number[])];
      return tokenizer.encode(promptText(prompt));
    },
    asList: (inputs) =>
      typeof inputs === 'string' ||
      (inputs.length > 0 && typeof inputs[0] === 'number') ||
      (inputs.length > 0 && isMessage(inputs[0]))
        ? [inputs as PromptInput]
        : [...(inputs as readonly PromptInput[])],
  };
}

/** A vector of norm `residualNorm` per token (20x that at BOS), along the first axis. */
function defaultActivations(
  hiddenSize: number,
  residualNorm: number,
): (context: { tokenIds: readonly number[] }) => Float32Array {
  return ({ tokenIds }) => {
    const values = new Float32Array(tokenIds.length * hiddenSize);
    tokenIds.forEach((id, position) => {
      values[position * hiddenSize] = id === bos ? residualNorm * 20 : residualNorm;
    });
    return values;
  };
}

/** The generation result of one row answering `fullText`, cut at `maxNewTokens`. */
function fakeGeneration(
  prompts: FakePrompts,
  row: { prompt: PromptInput; fullText: string; maxNewTokens: number | undefined },
): GenerationResult {
  const { tokenizer } = prompts;
  const limit = row.maxNewTokens;
  const promptTokenIds = prompts.encodePrompt(row.prompt);
  let responseTokenIds = tokenizer.encode(row.fullText, { addSpecialTokens: false });
  const finishReason = limit !== undefined && responseTokenIds.length > limit ? 'length' : 'stop_token';
  if (limit !== undefined) responseTokenIds = responseTokenIds.slice(0, limit);
  return {
    promptTokenIds,
    responseTokenIds,
    promptTokens: tokenizer.tokenStrings(promptTokenIds),
    responseTokens: tokenizer.tokenStrings(responseTokenIds),
    promptText: prompts.promptText(row.prompt),
    responseText: tokenizer.decode(responseTokenIds),
    finishReason,
  };
}

function isMessage(value: unknown): boolean {
  return typeof value === 'object' && value !== null && 'role' in value;
}

function rowCoefficient(spec: SteeringSpec, row: number): number {
  const { coefficient } = spec;
  if (typeof coefficient === 'number') return coefficient;
  const value = coefficient[row];
  if (typeof value === 'number') return value;
  if (value === undefined) throw new Error(`fake model: no coefficient for row ${row}`);
  return value[0] ?? 0;
}
