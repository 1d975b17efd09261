import { TraitlensError } from '@traitlens/core';
import type { ModelConfig, RopeScaling } from '../model/model-types';

function readNumber(json: Record<string, unknown>, field: string, source: string, fallback?: number): number {
  const value = json[field];
  if (value === undefined || value === null) {
    if (fallback !== undefined) return fallback;
    throw new TraitlensError(
      'INVALID_CONFIG',
      `${source}: config.json has no "${field}". Is this a complete Hugging Face model folder?`,
      { details: { file: source, field } },
    );
  }
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new TraitlensError(
      'INVALID_CONFIG',
      `${source}: config.json field "${field}" must be a number (got ${JSON.stringify(value)}).`,
      { details: { file: source, field, value } },
    );
  }
  return value;
}

/** A count or size: a whole number of at least 1 (a negative layer count would reach array constructors). */
function readCount(json: Record<string, unknown>, field: string, source: string, fallback?: number): number {
  const value = readNumber(json, field, source, fallback);
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new TraitlensError(
      'INVALID_CONFIG',
      `${source}: config.json field "${field}" must be a whole number of at least 1 (got ${value}). The config is damaged or hand-edited; restore it from the model's source.`,
      { details: { file: source, field, value } },
    );
  }
  return value;
}

/** A strictly positive real (epsilon, rope theta, scaling factors). */
function readPositive(
  json: Record<string, unknown>,
  field: string,
  source: string,
  fallback?: number,
): number {
  const value = readNumber(json, field, source, fallback);
  if (!(value > 0)) {
    throw new TraitlensError(
      'INVALID_CONFIG',
      `${source}: config.json field "${field}" must be greater than 0 (got ${value}). The config is damaged or hand-edited; restore it from the model's source.`,
      { details: { file: source, field, value } },
    );
  }
  return value;
}

function readTokenIds(value: unknown): number[] {
  if (typeof value === 'number') return [value];
  if (Array.isArray(value)) return value.filter((v): v is number => typeof v === 'number');
  return [];
}

function parseRopeScaling(json: Record<string, unknown>, source: string): RopeScaling | undefined {
  const raw = json.rope_scaling as Record<string, unknown> | null | undefined;
  if (!raw) return undefined;
  const type = raw.rope_type ?? raw.type;
  if (type === 'default') return undefined;
  if (type === 'llama3') {
    return {
      type: 'llama3',
      factor: readPositive(raw, 'factor', `${source} rope_scaling`),
      lowFreqFactor: readNumber(raw, 'low_freq_factor', `${source} rope_scaling`),
      highFreqFactor: readNumber(raw, 'high_freq_factor', `${source} rope_scaling`),
      originalMaxPositionEmbeddings: readNumber(
        raw,
        'original_max_position_embeddings',
        `${source} rope_scaling`,
      ),
    };
  }
  if (type === 'linear')
    return { type: 'linear', factor: readPositive(raw, 'factor', `${source} rope_scaling`) };
  throw new TraitlensError(
    'INVALID_CONFIG',
    `${source}: rope_scaling type "${String(type)}" is not supported (supported: llama3, linear, default).`,
    { details: { file: source, field: 'rope_scaling' } },
  );
}

/** Shared config parsing for Llama-shaped decoders; adapters set the feature flags. */
export function parseLlamaLikeConfig(
  json: Record<string, unknown>,
  source: string,
  features: { attentionBias: boolean; qkNorm: boolean },
): ModelConfig {
  const hiddenSize = readCount(json, 'hidden_size', source);
  const headCount = readCount(json, 'num_attention_heads', source);
  const kvHeadCount = readCount(json, 'num_key_value_heads', source, headCount);
  const headDim = readNumber(json, 'head_dim', source, hiddenSize / headCount);
  if (!Number.isInteger(headDim) || headDim < 1 || headCount % kvHeadCount !== 0) {
    throw new TraitlensError(
      'INVALID_CONFIG',
      `${source}: ${headCount} attention heads with ${kvHeadCount} key/value heads and head_dim ${headDim} do not form a valid grouped-query layout.`,
      { details: { file: source } },
    );
  }
  const activation = json.hidden_act ?? 'silu';
  if (activation !== 'silu') {
    throw new TraitlensError(
      'INVALID_CONFIG',
      `${source}: hidden_act "${String(activation)}" is not supported by this architecture adapter (expected silu).`,
      { details: { file: source, field: 'hidden_act' } },
    );
  }
  if (json.mlp_bias === true) {
    throw new TraitlensError('INVALID_CONFIG', `${source}: mlp_bias=true is not supported.`, {
      details: { file: source, field: 'mlp_bias' },
    });
  }
  const architectures = json.architectures as string[];
  return {
    architecture: architectures[0]!,
    modelType: String(json.model_type ?? 'unknown'),
    hiddenSize,
    intermediateSize: readCount(json, 'intermediate_size', source),
    layerCount: readCount(json, 'num_hidden_layers', source),
    headCount,
    kvHeadCount,
    headDim,
    vocabSize: readCount(json, 'vocab_size', source),
    rmsNormEps: readPositive(json, 'rms_norm_eps', source, 1e-6),
    ropeTheta: readPositive(json, 'rope_theta', source, 10000),
    ropeScaling: parseRopeScaling(json, source),
    maxPositionEmbeddings: readCount(json, 'max_position_embeddings', source, 4096),
    tieWordEmbeddings: json.tie_word_embeddings === true,
    attentionBias: features.attentionBias || json.attention_bias === true,
    qkNorm: features.qkNorm,
    bosTokenId: readTokenIds(json.bos_token_id)[0],
    eosTokenIds: readTokenIds(json.eos_token_id),
    padTokenId: readTokenIds(json.pad_token_id)[0],
    // Mistral v0.1 attends within a window; Qwen2 configs carry a window but disable it (use_sliding_window).
    slidingWindow:
      typeof json.sliding_window === 'number' && json.use_sliding_window !== false
        ? readCount(json, 'sliding_window', source)
        : undefined,
  };
}

/** The HF tensor naming shared by Llama, Mistral and Qwen2/3. */
export function llamaTensorNames(config: ModelConfig) {
  return {
    embedding: 'model.embed_tokens.weight',
    finalNorm: 'model.norm.weight',
    lmHead: config.tieWordEmbeddings ? undefined : 'lm_head.weight',
    layer(index: number) {
      const p = `model.layers.${index}`;
      return {
        inputNorm: `${p}.input_layernorm.weight`,
        postAttentionNorm: `${p}.post_attention_layernorm.weight`,
        q: `${p}.self_attn.q_proj.weight`,
        k: `${p}.self_attn.k_proj.weight`,
        v: `${p}.self_attn.v_proj.weight`,
        o: `${p}.self_attn.o_proj.weight`,
        ...(config.attentionBias
          ? {
              qBias: `${p}.self_attn.q_proj.bias`,
              kBias: `${p}.self_attn.k_proj.bias`,
              vBias: `${p}.self_attn.v_proj.bias`,
            }
          : {}),
        ...(config.qkNorm
          ? { qNorm: `${p}.self_attn.q_norm.weight`, kNorm: `${p}.self_attn.k_norm.weight` }
          : {}),
        gate: `${p}.mlp.gate_proj.weight`,
        up: `${p}.mlp.up_proj.weight`,
        down: `${p}.mlp.down_proj.weight`,
      };
    },
  };
}
