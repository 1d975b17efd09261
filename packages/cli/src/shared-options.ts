import { hookSites, parseLayerSelection, TraitlensError } from '@traitlens/core';
import type { ExecutionProviderName, LoadModelOptions } from '@traitlens/model-runtime';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { defaultDatasetsRoot } from './default-datasets-root';
import {
  choiceListOption,
  choiceOption,
  integerOption,
  numberOption,
  parseInteger,
} from './parse-option-values';

/**
 * The options several commands share, defined once so that the same concept has the same name, the
 * same allowed values and the same default everywhere (the table in the package README lists them).
 * A command adds them with the `add*Options` functions and reads them back with the `resolve*`
 * functions, which also fold in the deprecated spellings that are still accepted (hidden from --help).
 */

export const modelDtypes = ['fp32', 'fp16', 'int8', 'int4'] as const;
export const computeDtypes = ['fp32', 'fp16'] as const;
export const blockSizes = ['32', '64', '128'] as const;
// A Record, so a provider model-runtime adds fails to compile here until it is offered on the CLI.
const executionProviderSet = { cpu: true, cuda: true, webgpu: true } satisfies Record<
  ExecutionProviderName,
  true
>;
export const executionProviders = Object.keys(executionProviderSet) as ExecutionProviderName[];
export const loraModes = ['switchable', 'merged'] as const;
export const promptFormats = ['auto', 'raw', 'chat'] as const;

export type ModelDtype = (typeof modelDtypes)[number];
export type PromptFormat = (typeof promptFormats)[number];

/** Defaults of the model options: the same for every command that loads (or plans) a model. */
export const modelOptionDefaults = {
  dtype: 'fp32',
  computeDtype: 'fp32',
  blockSize: 32,
  zeroPoints: true,
  loraScale: 1,
  loraMode: 'switchable',
} as const;

/** Tokens generated per answer (generate, steer, capture). Extraction completions are a shorter concept. */
export const answerTokensDefault = 128;

export interface ModelCommandOptions {
  model: string;
  dtype: ModelDtype;
  computeDtype: (typeof computeDtypes)[number];
  blockSize: 32 | 64 | 128;
  zeroPoints: boolean;
  providers?: ExecutionProviderName[];
  lora?: string;
  loraScale: number;
  loraMode: (typeof loraModes)[number];
  threads?: number;
  deviceIndex?: number;
  logPlacement?: boolean;
}

export type ModelOptionKey = Exclude<keyof ModelCommandOptions, 'model'>;

/** Every model option; `plan` omits the ones that only matter while running (providers, threads). */
export const modelOptionKeys: readonly ModelOptionKey[] = [
  'dtype',
  'computeDtype',
  'blockSize',
  'zeroPoints',
  'providers',
  'threads',
  'deviceIndex',
  'logPlacement',
  'lora',
  'loraScale',
  'loraMode',
];

function modelOption(key: ModelOptionKey): Option {
  switch (key) {
    case 'dtype':
      return new Option('--dtype <dtype>', 'weights: fp32 (CPU reference), fp16 (GPU), int8 or int4')
        .argParser(choiceOption(modelDtypes))
        .default(modelOptionDefaults.dtype);
    case 'computeDtype':
      return new Option(
        '--compute-dtype <dtype>',
        'activations and KV cache of int8/int4 weights: fp32, or fp16 on a GPU (fp16 weights always compute in fp16)',
      )
        .argParser(choiceOption(computeDtypes))
        .default(modelOptionDefaults.computeDtype);
    case 'blockSize':
      return new Option('--block-size <n>', 'int8/int4 quantization block size: 32, 64 or 128')
        .argParser((value) => Number(choiceOption(blockSizes)(value)))
        .default(modelOptionDefaults.blockSize);
    case 'zeroPoints':
      return new Option(
        '--no-zero-points',
        'int8/int4: symmetric blocks without zero points, exactly those of GGUF q8_0/q4_0 (faster on the CPU, slightly less accurate; docs/quantization.md)',
      ).default(modelOptionDefaults.zeroPoints);
    case 'providers':
      return new Option(
        '--providers <list>',
        'execution providers to try in order: cpu, cuda, webgpu, e.g. webgpu,cpu (default: cpu; docs/gpu.md)',
      ).argParser(choiceListOption(executionProviders));
    case 'threads':
      return new Option('--threads <n>', 'CPU threads (default: all physical cores)').argParser(
        integerOption({ min: 1 }),
      );
    case 'deviceIndex':
      return new Option(
        '--device-index <n>',
        'the GPU (0-based) the cuda provider runs on, one process per GPU (default: TRAITLENS_DEVICE_INDEX, else 0; docs/scale-out.md)',
      ).argParser(integerOption({ min: 0 }));
    case 'logPlacement':
      return new Option(
        '--log-placement',
        'print which graph nodes run on the CPU and which on the GPU provider (as TRAITLENS_ORT_LOG=verbose; docs/gpu.md)',
      );
    case 'lora':
      return new Option('--lora <source>', 'PEFT LoRA adapter: local folder or hf:org/name[@revision]');
    case 'loraScale':
      return new Option('--lora-scale <x>', 'scale of the LoRA adapter (0 = the base model, 1 = as trained)')
        .argParser(numberOption())
        .default(modelOptionDefaults.loraScale);
    case 'loraMode':
      return new Option(
        '--lora-mode <mode>',
        'switchable (low-rank branches, any --lora-scale) or merged (folded into the weights at scale 1)',
      )
        .argParser(choiceOption(loraModes))
        .default(modelOptionDefaults.loraMode);
  }
}

/** Adds `--model` and the model options (docs/quantization.md, docs/lora.md, docs/gpu.md). */
export function addModelOptions(
  command: Command,
  settings: { modelDescription?: string; omit?: readonly ModelOptionKey[]; requireModel?: boolean } = {},
): Command {
  const model = new Option(
    '--model <source>',
    settings.modelDescription ?? 'local model folder or hf:org/name[@revision]',
  );
  if (settings.requireModel ?? true) model.makeOptionMandatory();
  command.addOption(model);
  for (const key of modelOptionKeys) if (!settings.omit?.includes(key)) command.addOption(modelOption(key));
  return command;
}

/** loadModel's options for the parsed model options (the adapter's scale is a per-call option). */
export function toLoadModelOptions(
  options: Omit<ModelCommandOptions, 'model'>,
  settings: { withLora?: boolean } = {},
): LoadModelOptions {
  return {
    dtype: options.dtype,
    blockSize: options.blockSize,
    zeroPoints: options.zeroPoints,
    computeDtype: options.computeDtype,
    ...(options.providers?.length ? { providers: options.providers } : {}),
    threads: options.threads,
    deviceIndex: options.deviceIndex,
    ...(options.logPlacement ? { debug: { logPlacement: true } } : {}),
    ...(options.lora && (settings.withLora ?? true)
      ? { lora: { source: options.lora, mode: options.loraMode } }
      : {}),
  };
}

/** Whether the parsed options name a LoRA scale that needs the switchable adapter. */
export function describeLoraScaleProblem(options: Omit<ModelCommandOptions, 'model'>): string | undefined {
  if (!options.lora && options.loraScale !== modelOptionDefaults.loraScale)
    return `--lora-scale ${options.loraScale} needs --lora <adapter>.`;
  if (options.lora && options.loraMode === 'merged' && options.loraScale !== 1)
    return `--lora-scale ${options.loraScale} needs --lora-mode switchable (a merged adapter is folded in at scale 1).`;
  return undefined;
}

export function maxNewTokensOption(
  description = 'tokens generated per answer',
  defaultValue = answerTokensDefault,
): Option {
  return new Option('--max-new-tokens <n>', description)
    .argParser(integerOption({ min: 1 }))
    .default(defaultValue);
}

export function temperatureOption(description = 'sampling temperature (0 = greedy)'): Option {
  return new Option('--temperature <t>', description).argParser(numberOption({ min: 0 })).default(0);
}

export function topPOption(): Option {
  return new Option(
    '--top-p <p>',
    'nucleus sampling: keep the most likely tokens holding this mass',
  ).argParser(numberOption({ min: 0, max: 1, exclusiveMin: true }));
}

export function topKOption(): Option {
  return new Option('--top-k <k>', 'sample among the k most likely tokens').argParser(
    integerOption({ min: 1 }),
  );
}

export function seedOption(description = 'random seed'): Option {
  return new Option('--seed <n>', description).argParser(parseInteger).default(0);
}

export function batchSizeOption(defaultValue: number, description = 'rows per batched model call'): Option {
  return new Option('--batch-size <n>', description)
    .argParser(integerOption({ min: 1 }))
    .default(defaultValue);
}

/**
 * The syntax of a layer selection, checked while parsing; whether the layers exist is checked against
 * the model's config (before its weights load where a command can).
 */
export function parseLayerSelectionSyntax(value: string): string {
  try {
    parseLayerSelection(value, 4096);
  } catch (error) {
    if (TraitlensError.isInstance(error) && error.code === 'LAYER_OUT_OF_RANGE') return value;
    throw new InvalidArgumentError(error instanceof Error ? error.message : String(error));
  }
  return value;
}

export function layersOption(
  description = 'layers: all, a list 0,3,5, a range 2-4 or start:end:step 20:60:2 (end excluded)',
  defaultValue?: string,
) {
  const option = new Option('--layers <layers>', description).argParser(parseLayerSelectionSyntax);
  return defaultValue === undefined ? option : option.default(defaultValue);
}

export function sitesOption(description = `hook sites: ${hookSites.join(',')} (docs/hook-sites.md)`) {
  return new Option('--sites <list>', description)
    .argParser(choiceListOption(hookSites))
    .default(['resid_post']);
}

/** The longest `--lock-wait`: one day. Waits are always bounded (docs/reliability.md). */
export const lockWaitMaxSeconds = 86_400;

/**
 * `--lock-wait <seconds>`: how long a stage that takes a lock (extract, capture and its replay) waits
 * for another live process holding it before failing with LOCK_HELD. Default 0: refuse at once.
 */
export function lockWaitOption(): Option {
  return new Option(
    '--lock-wait <seconds>',
    `wait up to this long for another process working on the same outputs before failing with LOCK_HELD (0 = refuse at once, at most ${lockWaitMaxSeconds}; docs/reliability.md)`,
  )
    .argParser(numberOption({ min: 0, max: lockWaitMaxSeconds }))
    .default(0);
}

/** The library's `lockWaitMs` for the parsed `--lock-wait`. */
export function toLockWaitMs(seconds: number): number {
  return Math.round(seconds * 1000);
}

export function experimentOption(description: string, mandatory = false): Option {
  const option = new Option('--experiment <dir>', description);
  return mandatory ? option.makeOptionMandatory() : option.default('experiments/default');
}

export function datasetsOption(): Option {
  return new Option(
    '--datasets <root>',
    'folder holding <category>/<trait> data sets (docs/extraction.md)',
  ).default(defaultDatasetsRoot(), 'datasets/traits, else the installed @traitlens/datasets');
}

// ---- prompt format -------------------------------------------------------------------------------

export interface PromptFormatCommandOptions {
  promptFormat?: PromptFormat;
  systemPrompt?: string;
  /** Deprecated spellings, still accepted. */
  chat?: boolean;
  chatTemplate?: 'auto' | 'always' | 'never';
  system?: string;
}

/**
 * `--prompt-format auto|raw|chat` and `--system-prompt`, one spelling for every command that prompts a
 * model. `auto` uses the chat template when the model has one. Hidden: `--chat`, `--chat-template`,
 * `--system` (the earlier spellings).
 */
export function addPromptFormatOptions(command: Command, settings: { systemPrompt?: boolean } = {}): Command {
  command.addOption(
    new Option(
      '--prompt-format <format>',
      'auto (chat template when the model has one), raw (plain text) or chat (always the template)',
    ).argParser(choiceOption(promptFormats)),
  );
  command.addOption(new Option('--chat', 'deprecated: --prompt-format chat').hideHelp());
  command.addOption(
    new Option('--chat-template <use>', 'deprecated: --prompt-format')
      .argParser(choiceOption(['auto', 'always', 'never'] as const))
      .hideHelp(),
  );
  if (settings.systemPrompt ?? true) {
    command.addOption(
      new Option('--system-prompt <text>', 'system message before each prompt (chat template only)'),
    );
    command.addOption(new Option('--system <text>', 'deprecated: --system-prompt').hideHelp());
  }
  return command;
}

/** The prompt format and system prompt, whichever spelling was used (the new one wins). */
export function resolvePromptFormat(options: PromptFormatCommandOptions): {
  promptFormat: PromptFormat;
  systemPrompt?: string | undefined;
} {
  const fromTemplate =
    options.chatTemplate === undefined
      ? undefined
      : ({ auto: 'auto', always: 'chat', never: 'raw' } as const)[options.chatTemplate];
  const promptFormat = options.promptFormat ?? fromTemplate ?? (options.chat ? 'chat' : 'auto');
  const systemPrompt = options.systemPrompt ?? options.system;
  return { promptFormat, systemPrompt };
}

// ---- judges --------------------------------------------------------------------------------------

export interface JudgeCommandOptions {
  judge?: string;
  /** Repeatable (and comma-separated): several endpoints serving one judge model share its requests. */
  judgeBaseUrl?: string[];
  judgeConcurrency: number;
  judgeTimeout: number;
  judgeAttempts: number;
}

export const judgeOptionDefaults = { concurrency: 8, timeoutSeconds: 60, attempts: 6 } as const;

/** `--judge` and the endpoint judge's settings (docs/steering.md). */
export function addJudgeOptions(
  command: Command,
  settings: { defaultJudge?: string; judgeDescription?: string } = {},
) {
  const judge = new Option(
    '--judge <judge>',
    settings.judgeDescription ?? 'openai:<model>, local:<model source> or lexicon (toy word-list judge)',
  );
  command.addOption(settings.defaultJudge === undefined ? judge : judge.default(settings.defaultJudge));
  command.addOption(
    new Option(
      '--judge-base-url <url>',
      'OpenAI-compatible /v1 base URL (default: OPENAI_BASE_URL, then OpenAI); key from OPENAI_API_KEY; repeat it (or list with commas) for several servers of one judge model: requests go to the least busy',
    ).argParser((value: string, previous: string[] | undefined) => [
      ...(previous ?? []),
      ...value
        .split(',')
        .map((url) => url.trim())
        .filter(Boolean),
    ]),
  );
  command.addOption(
    new Option('--judge-concurrency <n>', 'judge requests in flight at once')
      .argParser(integerOption({ min: 1 }))
      .default(judgeOptionDefaults.concurrency),
  );
  command.addOption(
    new Option('--judge-timeout <seconds>', 'give up on one judge request after this long')
      .argParser(numberOption({ min: 0, exclusiveMin: true }))
      .default(judgeOptionDefaults.timeoutSeconds),
  );
  command.addOption(
    new Option('--judge-attempts <n>', 'tries per judge request (transient failures are retried)')
      .argParser(integerOption({ min: 1 }))
      .default(judgeOptionDefaults.attempts),
  );
  return command;
}

/** createJudge's `openai` settings for the parsed judge options. */
export function toOpenAiJudgeSettings(options: JudgeCommandOptions) {
  return {
    concurrency: options.judgeConcurrency,
    timeoutMs: Math.round(options.judgeTimeout * 1000),
    retry: { maxRetries: options.judgeAttempts - 1 },
    ...(options.judgeBaseUrl?.length ? { baseUrls: options.judgeBaseUrl } : {}),
  };
}

/**
 * The endpoint judge needs a key for api.openai.com; checked before any model loads so a missing key
 * does not cost a model load first.
 */
export function describeJudgeKeyProblem(options: JudgeCommandOptions): string | undefined {
  if (!options.judge?.startsWith('openai:')) return undefined;
  const baseUrls = options.judgeBaseUrl?.length
    ? options.judgeBaseUrl
    : [process.env.OPENAI_BASE_URL ?? 'https://api.openai.com/v1'];
  const baseUrl = baseUrls.find((url) => /^https:\/\/api\.openai\.com\b/.test(url));
  if (baseUrl && !process.env.OPENAI_API_KEY)
    return `--judge ${options.judge} calls ${baseUrl}, which needs an API key: set OPENAI_API_KEY, or pass --judge-base-url for a local OpenAI-compatible server (vLLM, Ollama, llama.cpp), or --judge local:<model> / lexicon.`;
  return undefined;
}
