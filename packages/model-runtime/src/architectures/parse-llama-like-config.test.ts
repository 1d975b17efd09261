import { TraitlensError } from '@traitlens/core';
import { describe, expect, it } from 'vitest';
import { parseLlamaLikeConfig } from './parse-llama-like-config';

const valid = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  hidden_size: 64,
  intermediate_size: 112,
  num_hidden_layers: 3,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  vocab_size: 309,
  max_position_embeddings: 512,
  rms_norm_eps: 1e-5,
  rope_theta: 10000,
};

const parse = (overrides: Record<string, unknown>) =>
  parseLlamaLikeConfig({ ...valid, ...overrides }, 'm/config.json', { attentionBias: false, qkNorm: false });

describe('parseLlamaLikeConfig', () => {
  it('reads a valid config', () => {
    expect(parse({})).toMatchObject({
      hiddenSize: 64,
      layerCount: 3,
      headDim: 16,
      maxPositionEmbeddings: 512,
    });
  });

  it.each([
    ['num_hidden_layers', -3, 'must be a whole number of at least 1 (got -3)'],
    ['num_hidden_layers', 0, 'must be a whole number of at least 1 (got 0)'],
    ['hidden_size', -64, 'must be a whole number of at least 1 (got -64)'],
    ['intermediate_size', 2.5, 'must be a whole number of at least 1 (got 2.5)'],
    ['num_attention_heads', 0, 'must be a whole number of at least 1 (got 0)'],
    ['vocab_size', 1e300, 'must be a whole number of at least 1'],
    ['max_position_embeddings', -1, 'must be a whole number of at least 1 (got -1)'],
    ['rope_theta', -1, 'must be greater than 0 (got -1)'],
    ['rms_norm_eps', 0, 'must be greater than 0 (got 0)'],
    ['head_dim', -16, 'do not form a valid grouped-query layout'],
    ['rope_scaling', { rope_type: 'linear', factor: -2 }, 'must be greater than 0 (got -2)'],
    ['sliding_window', -4096, 'must be a whole number of at least 1 (got -4096)'],
  ])(
    'refuses %s = %j with INVALID_CONFIG naming the field (no RangeError later)',
    (field, value, message) => {
      let error: unknown;
      try {
        parse({ [field]: value });
      } catch (caught) {
        error = caught;
      }
      expect(TraitlensError.hasCode(error, 'INVALID_CONFIG')).toBe(true);
      expect((error as Error).message).toContain('m/config.json');
      expect((error as Error).message).toContain(message);
    },
  );
});
