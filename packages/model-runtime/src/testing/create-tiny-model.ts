import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TraitlensError, writeFileAtomic, writeJsonAtomic } from '@traitlens/core';
import type { RopeScaling } from '../model/model-types';
import { encodeWeightsSafetensors, type TinyModelDtype } from './encode-weights-safetensors';
import { tinyChatTemplate } from './tiny-chat-template';
import { buildTinyTokenizer, type TinySpecialToken } from './tiny-tokenizer';
import { createTinyWeights, type TinyWeightShape } from './tiny-weights';

export const tinyModelArchitectures = [
  'LlamaForCausalLM',
  'MistralForCausalLM',
  'Qwen2ForCausalLM',
  'Qwen3ForCausalLM',
] as const;

export type TinyModelArchitecture = (typeof tinyModelArchitectures)[number];

export interface TinyModelOptions {
  architecture?: TinyModelArchitecture;
  /** Same seed, same options -> byte-identical files. Default 0. */
  seed?: number;
  /** Default 64. */
  hiddenSize?: number;
  /** Default 112 (deliberately not a power of two). */
  intermediateSize?: number;
  /** Default 3. */
  layerCount?: number;
  /** Default 4. */
  headCount?: number;
  /** Default 2 (grouped-query attention). */
  kvHeadCount?: number;
  /**
   * Default hiddenSize / headCount, except Qwen3 where it defaults to 24 so that head_dim differs from
   * hidden/heads, as in the real Qwen3 checkpoints. Written to config.json when explicit or differing.
   */
  headDim?: number;
  /** Default: the tokenizer's size. A larger value pads the embedding matrix like many Hub models do. */
  vocabSize?: number;
  /** Default false. */
  tieWordEmbeddings?: boolean;
  /** `'llama3'` is Llama 3.1's shape scaled down: factor 8, low 1, high 4, original max positions 64. */
  ropeScaling?: RopeScaling | 'llama3';
  /** Default 10000. */
  ropeTheta?: number;
  /** Default 1e-5 (1e-6 for Qwen). */
  rmsNormEps?: number;
  /** Default 512. */
  maxPositionEmbeddings?: number;
  /** Storage dtype of model.safetensors. Default 'F32'. */
  dtype?: TinyModelDtype;
  /** Where to write; created if missing, files overwritten. Default: a fresh temporary directory. */
  directory?: string;
  /** Jinja chat template; `null` writes none (a base model). Default: a Llama-3-style template. */
  chatTemplate?: string | null;
}

export interface TinyModel {
  directory: string;
  architecture: TinyModelArchitecture;
  /** The config.json written, as an object. */
  config: Record<string, unknown>;
  bosTokenId: number;
  /** `<|end_of_text|>` and `<|eot_id|>`, as generation_config.json lists them. */
  eosTokenIds: number[];
  specialTokenIds: Record<TinySpecialToken, number>;
  /** Deletes the directory (use for temporary models). */
  remove(): Promise<void>;
}

const modelTypes: Record<TinyModelArchitecture, string> = {
  LlamaForCausalLM: 'llama',
  MistralForCausalLM: 'mistral',
  Qwen2ForCausalLM: 'qwen2',
  Qwen3ForCausalLM: 'qwen3',
};

const torchDtypes: Record<TinyModelDtype, string> = { F32: 'float32', BF16: 'bfloat16', F16: 'float16' };

function toHfRopeScaling(scaling: RopeScaling | 'llama3' | undefined): Record<string, unknown> | null {
  if (scaling === undefined) return null;
  if (scaling === 'llama3') {
    return {
      factor: 8,
      low_freq_factor: 1,
      high_freq_factor: 4,
      original_max_position_embeddings: 64,
      rope_type: 'llama3',
    };
  }
  if (scaling.type === 'linear') return { factor: scaling.factor, rope_type: 'linear' };
  return {
    factor: scaling.factor,
    low_freq_factor: scaling.lowFreqFactor,
    high_freq_factor: scaling.highFreqFactor,
    original_max_position_embeddings: scaling.originalMaxPositionEmbeddings,
    rope_type: 'llama3',
  };
}

function requirePositiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value <= 0) {
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      `createTinyModel: ${name} must be a positive integer (got ${value}).`,
    );
  }
  return value;
}

/** The validated options with every default filled in. */
interface TinyModelShape extends Omit<TinyWeightShape, 'attentionBias' | 'qkNorm'> {
  architecture: TinyModelArchitecture;
  maxPositionEmbeddings: number;
  /** Whether config.json states head_dim. */
  writeHeadDim: boolean;
}

/**
 * Writes a tiny, deterministic, randomly initialised Hugging Face model directory (config.json,
 * model.safetensors, tokenizer.json, tokenizer_config.json, generation_config.json) that loads like a
 * real checkpoint of the chosen architecture. For tests and demos: no download, a few hundred KB.
 */
export async function createTinyModel(options: TinyModelOptions = {}): Promise<TinyModel> {
  const tokenizer = buildTinyTokenizer();
  const shape = resolveTinyModelShape(options, tokenizer.vocabSize);
  const { architecture } = shape;
  const dtype = options.dtype ?? 'F32';
  const chatTemplate = options.chatTemplate === undefined ? tinyChatTemplate : options.chatTemplate;
  const ids = tokenizer.specialTokenIds;
  const bosTokenId = ids['<|begin_of_text|>'];
  const eosTokenIds = [ids['<|end_of_text|>'], ids['<|eot_id|>']];
  const config = tinyConfigJson(shape, { options, dtype, ids });
  const weights = createTinyWeights(
    {
      hiddenSize: shape.hiddenSize,
      intermediateSize: shape.intermediateSize,
      layerCount: shape.layerCount,
      headCount: shape.headCount,
      kvHeadCount: shape.kvHeadCount,
      headDim: shape.headDim,
      vocabSize: shape.vocabSize,
      tieWordEmbeddings: shape.tieWordEmbeddings,
      attentionBias: architecture === 'Qwen2ForCausalLM',
      qkNorm: architecture === 'Qwen3ForCausalLM',
    },
    options.seed ?? 0,
  );
  const tokenizerConfig = tinyTokenizerConfig(ids, {
    chatTemplate,
    maxPositionEmbeddings: shape.maxPositionEmbeddings,
  });

  const directory = options.directory ?? (await mkdtemp(join(tmpdir(), 'traitlens-tiny-')));
  await mkdir(directory, { recursive: true });
  await writeJsonAtomic(join(directory, 'config.json'), config);
  await writeJsonAtomic(join(directory, 'generation_config.json'), {
    bos_token_id: bosTokenId,
    eos_token_id: eosTokenIds,
  });
  await writeJsonAtomic(join(directory, 'tokenizer.json'), tokenizer.tokenizerJson);
  await writeJsonAtomic(join(directory, 'tokenizer_config.json'), tokenizerConfig);
  await writeFileAtomic(join(directory, 'model.safetensors'), encodeWeightsSafetensors(weights, dtype));

  return {
    directory,
    architecture,
    config,
    bosTokenId,
    eosTokenIds,
    specialTokenIds: { ...ids },
    remove: () => rm(directory, { recursive: true, force: true }),
  };
}

/** Checks the options (errors name the option) and fills in the defaults. */
function resolveTinyModelShape(options: TinyModelOptions, tokenizerVocabSize: number): TinyModelShape {
  const architecture = options.architecture ?? 'LlamaForCausalLM';
  if (!tinyModelArchitectures.includes(architecture)) {
    throw new TraitlensError(
      'UNSUPPORTED_ARCHITECTURE',
      `createTinyModel: architecture "${architecture}" is not one of ${tinyModelArchitectures.join(', ')}.`,
    );
  }
  const hiddenSize = requirePositiveInteger('hiddenSize', options.hiddenSize ?? 64);
  const intermediateSize = requirePositiveInteger('intermediateSize', options.intermediateSize ?? 112);
  const layerCount = requirePositiveInteger('layerCount', options.layerCount ?? 3);
  const headCount = requirePositiveInteger('headCount', options.headCount ?? 4);
  const kvHeadCount = requirePositiveInteger('kvHeadCount', options.kvHeadCount ?? 2);
  if (headCount % kvHeadCount !== 0) {
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      `createTinyModel: headCount ${headCount} must be a multiple of kvHeadCount ${kvHeadCount}.`,
    );
  }
  const defaultHeadDim = architecture === 'Qwen3ForCausalLM' ? 24 : hiddenSize / headCount;
  const headDim = requirePositiveInteger('headDim', options.headDim ?? defaultHeadDim);
  if (headDim % 2 !== 0)
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      `createTinyModel: headDim ${headDim} must be even for rotary embeddings.`,
    );
  const vocabSize = requirePositiveInteger('vocabSize', options.vocabSize ?? tokenizerVocabSize);
  if (vocabSize < tokenizerVocabSize) {
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      `createTinyModel: vocabSize ${vocabSize} is smaller than the tokenizer's ${tokenizerVocabSize} tokens.`,
    );
  }
  const maxPositionEmbeddings = requirePositiveInteger(
    'maxPositionEmbeddings',
    options.maxPositionEmbeddings ?? 512,
  );
  return {
    architecture,
    hiddenSize,
    intermediateSize,
    layerCount,
    headCount,
    kvHeadCount,
    headDim,
    vocabSize,
    tieWordEmbeddings: options.tieWordEmbeddings ?? false,
    maxPositionEmbeddings,
    // Real Llama and Qwen2 configs omit head_dim (it is hidden/heads); Mistral and Qwen3 always state it.
    writeHeadDim:
      architecture === 'MistralForCausalLM' ||
      architecture === 'Qwen3ForCausalLM' ||
      options.headDim !== undefined ||
      headDim !== hiddenSize / headCount,
  };
}

/** config.json as the architecture's real checkpoints write it. */
function tinyConfigJson(
  shape: TinyModelShape,
  settings: { options: TinyModelOptions; dtype: TinyModelDtype; ids: Record<TinySpecialToken, number> },
): Record<string, unknown> {
  const { architecture, layerCount } = shape;
  const { options, ids } = settings;
  const isQwen = architecture === 'Qwen2ForCausalLM' || architecture === 'Qwen3ForCausalLM';
  const config: Record<string, unknown> = {
    architectures: [architecture],
    model_type: modelTypes[architecture],
    hidden_size: shape.hiddenSize,
    intermediate_size: shape.intermediateSize,
    num_hidden_layers: layerCount,
    num_attention_heads: shape.headCount,
    num_key_value_heads: shape.kvHeadCount,
  };
  if (shape.writeHeadDim) config.head_dim = shape.headDim;
  Object.assign(config, {
    vocab_size: shape.vocabSize,
    max_position_embeddings: shape.maxPositionEmbeddings,
    rms_norm_eps: options.rmsNormEps ?? (isQwen ? 1e-6 : 1e-5),
    rope_theta: options.ropeTheta ?? 10000,
    rope_scaling: toHfRopeScaling(options.ropeScaling),
    hidden_act: 'silu',
    initializer_range: 0.02,
    attention_dropout: 0,
    tie_word_embeddings: shape.tieWordEmbeddings,
    bos_token_id: ids['<|begin_of_text|>'],
    eos_token_id: ids['<|end_of_text|>'],
    torch_dtype: torchDtypes[settings.dtype],
    use_cache: true,
  });
  if (architecture === 'LlamaForCausalLM')
    Object.assign(config, { attention_bias: false, mlp_bias: false, pretraining_tp: 1 });
  if (architecture === 'MistralForCausalLM') config.sliding_window = null;
  if (architecture === 'Qwen3ForCausalLM') config.attention_bias = false;
  if (isQwen)
    Object.assign(config, { use_sliding_window: false, sliding_window: null, max_window_layers: layerCount });
  return config;
}

/** tokenizer_config.json: the special tokens, and the chat template unless the model is a base model. */
function tinyTokenizerConfig(
  ids: Record<TinySpecialToken, number>,
  settings: { chatTemplate: string | null; maxPositionEmbeddings: number },
): Record<string, unknown> {
  const { chatTemplate } = settings;
  const addedTokensDecoder: Record<string, unknown> = {};
  for (const [content, id] of Object.entries(ids)) {
    addedTokensDecoder[String(id)] = {
      content,
      lstrip: false,
      normalized: false,
      rstrip: false,
      single_word: false,
      special: true,
    };
  }
  const tokenizerConfig: Record<string, unknown> = {
    added_tokens_decoder: addedTokensDecoder,
    bos_token: '<|begin_of_text|>',
    eos_token: chatTemplate === null ? '<|end_of_text|>' : '<|eot_id|>',
    clean_up_tokenization_spaces: false,
    model_input_names: ['input_ids', 'attention_mask'],
    model_max_length: settings.maxPositionEmbeddings,
    tokenizer_class: 'PreTrainedTokenizerFast',
  };
  if (chatTemplate !== null) tokenizerConfig.chat_template = chatTemplate;
  return tokenizerConfig;
}
