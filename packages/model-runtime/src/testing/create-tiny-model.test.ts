import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { SafetensorsFile, TraitlensError } from '@traitlens/core';
import { afterAll, describe, expect, it } from 'vitest';
import { createTinyModel, type TinyModel, tinyModelArchitectures } from './create-tiny-model';
import { createSeededRandom } from './seeded-random';

const created: TinyModel[] = [];
async function makeModel(options: Parameters<typeof createTinyModel>[0]): Promise<TinyModel> {
  const model = await createTinyModel(options);
  created.push(model);
  return model;
}
afterAll(async () => {
  await Promise.all(created.map((model) => model.remove()));
});

async function readJson(path: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
}

async function tensorShapes(directory: string): Promise<Map<string, { dtype: string; shape: number[] }>> {
  const file = await SafetensorsFile.open(join(directory, 'model.safetensors'));
  try {
    return new Map(
      [...file.tensors.values()].map((info) => [info.name, { dtype: info.dtype, shape: info.shape }]),
    );
  } finally {
    await file.close();
  }
}

describe('createSeededRandom', () => {
  it('repeats its stream for a seed and has unit-normal statistics', () => {
    const first = createSeededRandom(7);
    const second = createSeededRandom(7);
    const values = Array.from({ length: 20_000 }, () => first.nextNormal());
    expect(Array.from({ length: 20_000 }, () => second.nextNormal())).toEqual(values);
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length;
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(variance - 1)).toBeLessThan(0.05);
  });
});

describe('createTinyModel', () => {
  it('writes byte-identical files for the same seed and different weights for another seed', async () => {
    const files = [
      'config.json',
      'generation_config.json',
      'tokenizer.json',
      'tokenizer_config.json',
      'model.safetensors',
    ];
    const first = await makeModel({ architecture: 'Qwen3ForCausalLM', seed: 3 });
    const second = await makeModel({ architecture: 'Qwen3ForCausalLM', seed: 3 });
    const other = await makeModel({ architecture: 'Qwen3ForCausalLM', seed: 4 });
    for (const file of files) {
      expect(
        Buffer.compare(
          await readFile(join(first.directory, file)),
          await readFile(join(second.directory, file)),
        ),
        file,
      ).toBe(0);
    }
    const weights = await readFile(join(first.directory, 'model.safetensors'));
    expect(Buffer.compare(weights, await readFile(join(other.directory, 'model.safetensors')))).not.toBe(0);
  });

  it.each(tinyModelArchitectures)('writes HF tensor names and shapes for %s', async (architecture) => {
    const model = await makeModel({ architecture, layerCount: 2 });
    const config = await readJson(join(model.directory, 'config.json'));
    const shapes = await tensorShapes(model.directory);
    const hidden = 64;
    const vocab = config.vocab_size as number;
    const headDim = architecture === 'Qwen3ForCausalLM' ? 24 : 16;
    expect(config.architectures).toEqual([architecture]);
    expect(config.num_hidden_layers).toBe(2);
    expect(config.torch_dtype).toBe('float32');
    expect(config.head_dim ?? hidden / 4).toBe(headDim);
    const expected = new Map<string, number[]>([['model.embed_tokens.weight', [vocab, hidden]]]);
    for (let layer = 0; layer < 2; layer++) {
      const prefix = `model.layers.${layer}`;
      expected.set(`${prefix}.input_layernorm.weight`, [hidden]);
      expected.set(`${prefix}.self_attn.q_proj.weight`, [4 * headDim, hidden]);
      expected.set(`${prefix}.self_attn.k_proj.weight`, [2 * headDim, hidden]);
      expected.set(`${prefix}.self_attn.v_proj.weight`, [2 * headDim, hidden]);
      expected.set(`${prefix}.self_attn.o_proj.weight`, [hidden, 4 * headDim]);
      if (architecture === 'Qwen2ForCausalLM') {
        expected.set(`${prefix}.self_attn.q_proj.bias`, [4 * headDim]);
        expected.set(`${prefix}.self_attn.k_proj.bias`, [2 * headDim]);
        expected.set(`${prefix}.self_attn.v_proj.bias`, [2 * headDim]);
      }
      if (architecture === 'Qwen3ForCausalLM') {
        expected.set(`${prefix}.self_attn.q_norm.weight`, [headDim]);
        expected.set(`${prefix}.self_attn.k_norm.weight`, [headDim]);
      }
      expected.set(`${prefix}.post_attention_layernorm.weight`, [hidden]);
      expected.set(`${prefix}.mlp.gate_proj.weight`, [112, hidden]);
      expected.set(`${prefix}.mlp.up_proj.weight`, [112, hidden]);
      expected.set(`${prefix}.mlp.down_proj.weight`, [hidden, 112]);
    }
    expected.set('model.norm.weight', [hidden]);
    expected.set('lm_head.weight', [vocab, hidden]);
    expect(new Map([...shapes].map(([name, info]) => [name, info.shape]))).toEqual(expected);
  });

  it('omits lm_head when embeddings are tied and writes BF16/F16 weights that decode close to F32', async () => {
    const tied = await makeModel({ tieWordEmbeddings: true, layerCount: 1 });
    expect([...(await tensorShapes(tied.directory)).keys()]).not.toContain('lm_head.weight');
    expect(tied.config.tie_word_embeddings).toBe(true);
    const reference = await SafetensorsFile.open(join(tied.directory, 'model.safetensors'));
    const expected = await reference.readFloat32('model.layers.0.mlp.up_proj.weight');
    await reference.close();
    for (const [dtype, torchDtype, tolerance] of [
      ['BF16', 'bfloat16', 2 ** -8],
      ['F16', 'float16', 2 ** -11],
    ] as const) {
      const model = await makeModel({ tieWordEmbeddings: true, layerCount: 1, dtype });
      expect(model.config.torch_dtype).toBe(torchDtype);
      const file = await SafetensorsFile.open(join(model.directory, 'model.safetensors'));
      expect(file.tensors.get('model.layers.0.mlp.up_proj.weight')?.dtype).toBe(dtype);
      const values = await file.readFloat32('model.layers.0.mlp.up_proj.weight');
      await file.close();
      for (let index = 0; index < values.length; index++) {
        expect(Math.abs(values[index]! - expected[index]!)).toBeLessThanOrEqual(
          Math.abs(expected[index]!) * tolerance + 1e-7,
        );
      }
    }
  });

  it('writes llama3 rope scaling, explicit head_dim and a padded vocabulary in HF field names', async () => {
    const model = await makeModel({ ropeScaling: 'llama3', headDim: 8, vocabSize: 400, layerCount: 1 });
    expect(model.config).toMatchObject({
      rope_scaling: {
        rope_type: 'llama3',
        factor: 8,
        low_freq_factor: 1,
        high_freq_factor: 4,
        original_max_position_embeddings: 64,
      },
      head_dim: 8,
      vocab_size: 400,
      rms_norm_eps: 1e-5,
      rope_theta: 10000,
      max_position_embeddings: 512,
      bos_token_id: model.bosTokenId,
      eos_token_id: model.eosTokenIds[0],
    });
    const shapes = await tensorShapes(model.directory);
    expect(shapes.get('model.layers.0.self_attn.q_proj.weight')?.shape).toEqual([32, 64]);
    expect(shapes.get('model.embed_tokens.weight')?.shape).toEqual([400, 64]);
    const generation = await readJson(join(model.directory, 'generation_config.json'));
    expect(generation).toEqual({ bos_token_id: model.bosTokenId, eos_token_id: model.eosTokenIds });
  });

  it('rejects impossible shapes with a TraitlensError', async () => {
    await expect(createTinyModel({ headCount: 4, kvHeadCount: 3 })).rejects.toSatisfy((error) =>
      TraitlensError.hasCode(error, 'INVALID_ARGUMENT'),
    );
    await expect(createTinyModel({ vocabSize: 10 })).rejects.toThrow(/smaller than the tokenizer/);
  });

  it('writes a byte-level BPE tokenizer that round-trips text and adds BOS like Llama 3', async () => {
    const model = await makeModel({ layerCount: 1 });
    const tokenizerJson = await readJson(join(model.directory, 'tokenizer.json'));
    const tokenizerConfig = await readJson(join(model.directory, 'tokenizer_config.json'));
    const tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
    const texts = [
      'The robot waved at the boats.',
      '  leading spaces, tabs\tand\nnewlines ',
      'héllo wörld 世界 🙂',
      "it's 42!",
    ];
    for (const text of texts) {
      const withBos = tokenizer.encode(text).ids;
      const plain = tokenizer.encode(text, { add_special_tokens: false }).ids;
      expect(withBos).toEqual([model.bosTokenId, ...plain]);
      expect(tokenizer.decode(plain)).toBe(text);
      expect(tokenizer.decode(withBos, { skip_special_tokens: true })).toBe(text);
    }
    // Learned merges make common words shorter than their byte count.
    expect(tokenizer.encode(' the robot', { add_special_tokens: false }).ids.length).toBeLessThan(6);
    const chat = '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>';
    const chatIds = tokenizer.encode(chat, { add_special_tokens: false }).ids;
    expect(chatIds.slice(0, 2)).toEqual([model.bosTokenId, model.specialTokenIds['<|start_header_id|>']]);
    expect(chatIds.at(-1)).toBe(model.specialTokenIds['<|eot_id|>']);
    expect(tokenizerConfig.chat_template).toContain('bos_token');
    expect(tokenizerConfig.bos_token).toBe('<|begin_of_text|>');
  });
});
