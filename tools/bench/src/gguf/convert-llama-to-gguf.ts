import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { SafetensorsCheckpoint, TraitlensError, withFileSystemErrors } from '@traitlens/core';
import { temporaryFileName } from '@traitlens/core/internal';
import { encodeGgufHeader, type GgufTensorInfo, type GgufValue } from '@traitlens/extraction';
import { parseModelConfig } from '@traitlens/model-runtime/internal';
import { encodeGgmlRows, type GgmlTypeName, ggmlMatrixBytes, ggmlTypes } from './ggml-quantize';
import { ggufTokenizerMetadata } from './gguf-tokenizer-metadata';

export interface ConvertLlamaToGgufOptions {
  /** A Hugging Face Llama folder: config.json, model*.safetensors, tokenizer.json. */
  modelDirectory: string;
  outputPath: string;
  /** Type of the 2-D weights; norms stay f32, and matrices whose rows are not a multiple of 32 too. */
  type: GgmlTypeName;
}

/** llama.cpp's `general.file_type` (llama_ftype) per weight type. */
const fileTypes: Record<GgmlTypeName, number> = { f32: 0, q4_0: 2, q8_0: 7 };

/**
 * llama.cpp's Llama applies rotary embeddings to interleaved pairs (x0, x1), (x2, x3), ...; Hugging Face
 * to halves (x_i, x_{i + hd/2}). Reordering the rows of q and k per head turns one into the other (what
 * llama.cpp's convert_hf_to_gguf.py `permute` does): new row 2j + t of a head is old row t * hd/2 + j.
 */
export function permuteForInterleavedRotary(
  weight: Float32Array,
  heads: number,
  headDim: number,
): Float32Array {
  const columns = weight.length / (heads * headDim);
  const out = new Float32Array(weight.length);
  const half = headDim / 2;
  for (let head = 0; head < heads; head++)
    for (let j = 0; j < half; j++)
      for (let t = 0; t < 2; t++) {
        const from = (head * headDim + t * half + j) * columns;
        out.set(weight.subarray(from, from + columns), (head * headDim + 2 * j + t) * columns);
      }
  return out;
}

interface PlannedTensor {
  name: string;
  source: string;
  /** `[rows, columns]` of the Hugging Face tensor (a vector: `[length]`). */
  shape: number[];
  type: GgmlTypeName;
  permute?: { heads: number };
}

/**
 * Converts a Hugging Face Llama checkpoint to a GGUF file llama.cpp loads (architecture `llama`), with
 * the 2-D weights in f32, q8_0 or q4_0 quantized the way ggml's reference quantizers do. Written for the
 * benchmark: the same safetensors feed traitlens and llama.cpp, so both run the same weights. Tensors
 * are read and written one at a time; the file appears under its final name only when complete.
 */
export async function convertLlamaToGguf(options: ConvertLlamaToGgufOptions): Promise<void> {
  const { modelDirectory, outputPath, type } = options;
  const configPath = join(modelDirectory, 'config.json');
  const config = parseModelConfig(JSON.parse(await readFile(configPath, 'utf8')), configPath);
  if (
    config.architecture !== 'LlamaForCausalLM' ||
    config.attentionBias ||
    config.qkNorm ||
    config.ropeScaling
  )
    throw new TraitlensError(
      'UNSUPPORTED_ARCHITECTURE',
      `${configPath}: the GGUF converter handles plain LlamaForCausalLM (no attention bias, q/k norm or rope scaling); got ${config.architecture}. Convert this model with llama.cpp's convert_hf_to_gguf.py instead.`,
      { details: { file: configPath, architecture: config.architecture } },
    );
  const tokenizer = JSON.parse(await readFile(join(modelDirectory, 'tokenizer.json'), 'utf8'));
  const checkpoint = await SafetensorsCheckpoint.open(modelDirectory);
  try {
    const {
      hiddenSize: d,
      intermediateSize: inter,
      headCount: heads,
      kvHeadCount: kvHeads,
      headDim: hd,
    } = config;
    const matrixType = (columns: number): GgmlTypeName =>
      columns % ggmlTypes[type].blockValues === 0 ? type : 'f32';
    const plan: PlannedTensor[] = [
      {
        name: 'token_embd.weight',
        source: 'model.embed_tokens.weight',
        shape: [config.vocabSize, d],
        type: matrixType(d),
      },
    ];
    for (let layer = 0; layer < config.layerCount; layer++) {
      const p = `model.layers.${layer}`;
      const b = `blk.${layer}`;
      plan.push(
        { name: `${b}.attn_norm.weight`, source: `${p}.input_layernorm.weight`, shape: [d], type: 'f32' },
        {
          name: `${b}.attn_q.weight`,
          source: `${p}.self_attn.q_proj.weight`,
          shape: [heads * hd, d],
          type: matrixType(d),
          permute: { heads },
        },
        {
          name: `${b}.attn_k.weight`,
          source: `${p}.self_attn.k_proj.weight`,
          shape: [kvHeads * hd, d],
          type: matrixType(d),
          permute: { heads: kvHeads },
        },
        {
          name: `${b}.attn_v.weight`,
          source: `${p}.self_attn.v_proj.weight`,
          shape: [kvHeads * hd, d],
          type: matrixType(d),
        },
        {
          name: `${b}.attn_output.weight`,
          source: `${p}.self_attn.o_proj.weight`,
          shape: [d, heads * hd],
          type: matrixType(heads * hd),
        },
        {
          name: `${b}.ffn_norm.weight`,
          source: `${p}.post_attention_layernorm.weight`,
          shape: [d],
          type: 'f32',
        },
        {
          name: `${b}.ffn_gate.weight`,
          source: `${p}.mlp.gate_proj.weight`,
          shape: [inter, d],
          type: matrixType(d),
        },
        {
          name: `${b}.ffn_up.weight`,
          source: `${p}.mlp.up_proj.weight`,
          shape: [inter, d],
          type: matrixType(d),
        },
        {
          name: `${b}.ffn_down.weight`,
          source: `${p}.mlp.down_proj.weight`,
          shape: [d, inter],
          type: matrixType(inter),
        },
      );
    }
    plan.push({ name: 'output_norm.weight', source: 'model.norm.weight', shape: [d], type: 'f32' });
    // A tied head is left out: llama.cpp then uses token_embd for the output, as the model does.
    if (!config.tieWordEmbeddings)
      plan.push({
        name: 'output.weight',
        source: 'lm_head.weight',
        shape: [config.vocabSize, d],
        type: matrixType(d),
      });
    for (const tensor of plan)
      if (!checkpoint.has(tensor.source))
        throw new TraitlensError(
          'INVALID_SAFETENSORS',
          `${modelDirectory} has no tensor ${tensor.source}, which a Llama checkpoint needs.`,
          {
            details: { file: modelDirectory, tensor: tensor.source },
          },
        );

    const metadata: [string, GgufValue][] = [
      ['general.architecture', { type: 'string', value: 'llama' }],
      ['general.name', { type: 'string', value: 'traitlens benchmark conversion' }],
      ['general.file_type', { type: 'uint32', value: fileTypes[type] }],
      ['llama.context_length', { type: 'uint32', value: config.maxPositionEmbeddings }],
      ['llama.embedding_length', { type: 'uint32', value: d }],
      ['llama.block_count', { type: 'uint32', value: config.layerCount }],
      ['llama.feed_forward_length', { type: 'uint32', value: inter }],
      ['llama.attention.head_count', { type: 'uint32', value: heads }],
      ['llama.attention.head_count_kv', { type: 'uint32', value: kvHeads }],
      ['llama.attention.key_length', { type: 'uint32', value: hd }],
      ['llama.attention.value_length', { type: 'uint32', value: hd }],
      ['llama.rope.dimension_count', { type: 'uint32', value: hd }],
      ['llama.rope.freq_base', { type: 'float32', value: config.ropeTheta }],
      ['llama.attention.layer_norm_rms_epsilon', { type: 'float32', value: config.rmsNormEps }],
      ['llama.vocab_size', { type: 'uint32', value: config.vocabSize }],
      ...ggufTokenizerMetadata(tokenizer, config.vocabSize, {
        ...(config.bosTokenId !== undefined ? { bos: config.bosTokenId } : {}),
        ...(config.eosTokenIds[0] !== undefined ? { eos: config.eosTokenIds[0] } : {}),
        ...(config.padTokenId !== undefined ? { pad: config.padTokenId } : {}),
        ...(tokenizer.model.vocab['<unk>'] !== undefined ? { unk: tokenizer.model.vocab['<unk>'] } : {}),
      }),
    ];
    const infos: GgufTensorInfo[] = plan.map((tensor) => ({
      name: tensor.name,
      // ggml lists the fastest-varying dimension first.
      dimensions: [...tensor.shape].reverse(),
      ggmlType: ggmlTypes[tensor.type].id,
      byteLength:
        tensor.shape.length === 1
          ? tensor.shape[0]! * 4
          : ggmlMatrixBytes(tensor.type, tensor.shape[0]!, tensor.shape[1]!),
    }));
    const header = encodeGgufHeader(metadata, infos);
    async function* chunks(): AsyncGenerator<Uint8Array> {
      yield header.bytes;
      for (const [index, tensor] of plan.entries()) {
        let values = await checkpoint.readFloat32(tensor.source);
        if (values.length !== tensor.shape.reduce((a, b) => a * b, 1))
          throw new TraitlensError(
            'SHAPE_MISMATCH',
            `${tensor.source} has ${values.length} values; config.json implies [${tensor.shape.join(', ')}].`,
            {
              details: { tensor: tensor.source, expected: tensor.shape },
            },
          );
        if (tensor.permute) values = permuteForInterleavedRotary(values, tensor.permute.heads, hd);
        const bytes = encodeGgmlRows(tensor.type, values, tensor.shape[1] ?? tensor.shape[0]!);
        yield bytes;
        const padding = (header.alignment - (infos[index]!.byteLength % header.alignment)) % header.alignment;
        if (padding > 0) yield new Uint8Array(padding);
      }
    }
    await writeStreamAtomic(outputPath, chunks());
  } finally {
    await checkpoint.close();
  }
}

/** Writes chunks to a temporary sibling, syncs it and renames it over `path`: never a half-written GGUF. */
async function writeStreamAtomic(path: string, chunks: AsyncIterable<Uint8Array>): Promise<void> {
  await withFileSystemErrors({ path, action: 'write' }, async () => {
    await mkdir(dirname(path), { recursive: true });
    const temporary = join(dirname(path), temporaryFileName(basename(path), randomBytes(4).toString('hex')));
    const handle = await open(temporary, 'w');
    try {
      for await (const chunk of chunks) await handle.write(chunk);
      await handle.sync();
      await handle.close();
      await rename(temporary, path);
    } catch (error) {
      await handle.close().catch(() => undefined);
      await rm(temporary, { force: true });
      throw error;
    }
  });
}
