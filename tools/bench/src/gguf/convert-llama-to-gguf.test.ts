import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSafetensors, type SafetensorsTensorInput, writeSafetensors } from '@traitlens/core';
import { float16BitsToNumber } from '@traitlens/core/internal';
import { parseGguf } from '@traitlens/extraction';
import { loadModel } from '@traitlens/model-runtime';
import { dequantizeBlockwise, quantizeBlockwise } from '@traitlens/model-runtime/internal';
import { afterAll, describe, expect, it } from 'vitest';
import { allSequences, generateGreedy, openLlamaCpp } from '../llama-cpp/llama-cpp-engine';
import { convertLlamaToGguf, permuteForInterleavedRotary } from './convert-llama-to-gguf';
import { encodeGgmlRows, type GgmlTypeName, quantizeRowQ4_0, quantizeRowQ8_0 } from './ggml-quantize';

const stories = join(import.meta.dirname, '../../../../../shared/models/stories260k/hf');
const folders: string[] = [];

/** ggml's dequantization (dequantize_row_q8_0 / q4_0), written from the block layout. */
function dequantizeRows(type: 'q8_0' | 'q4_0', bytes: Uint8Array, values: number): Float32Array {
  const out = new Float32Array(values);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const blockBytes = type === 'q8_0' ? 34 : 18;
  for (let block = 0; block < values / 32; block++) {
    const at = block * blockBytes;
    const d = float16BitsToNumber(view.getUint16(at, true));
    for (let j = 0; j < 32; j++) {
      const code =
        type === 'q8_0'
          ? view.getInt8(at + 2 + j)
          : (j < 16 ? bytes[at + 2 + j]! & 15 : bytes[at + 2 + j - 16]! >> 4) - 8;
      out[block * 32 + j] = code * d;
    }
  }
  return out;
}

/** A copy of a model folder whose 2-D weights are quantized and dequantized again, as llama.cpp will see them. */
async function roundTripThroughQuantization(directory: string, type: 'q8_0' | 'q4_0'): Promise<string> {
  const folder = await mkdtemp(join(tmpdir(), `traitlens-gguf-${type}-`));
  folders.push(folder);
  for (const name of ['config.json', 'tokenizer.json', 'tokenizer_config.json'])
    await copyFile(join(directory, name), join(folder, name));
  const { tensors } = await readSafetensors(join(directory, 'model.safetensors'));
  const out: Record<string, SafetensorsTensorInput> = {};
  for (const [name, tensor] of tensors) {
    const columns = tensor.shape[1];
    const quantized = tensor.shape.length === 2 && columns !== undefined && columns % 32 === 0;
    const data = quantized
      ? dequantizeRows(type, encodeGgmlRows(type as GgmlTypeName, tensor.data, columns), tensor.data.length)
      : tensor.data;
    out[name] = { dtype: 'F32', shape: tensor.shape, data };
  }
  await writeSafetensors(join(folder, 'model.safetensors'), out);
  return folder;
}
afterAll(async () => {
  for (const folder of folders) await rm(folder, { recursive: true, force: true });
});

describe('ggml quantizers (blocks worked out by hand from ggml-quants.c)', () => {
  it('q8_0: d = max|x| / 127 as fp16, codes roundf(x / d), half away from zero', () => {
    // max|x| = 2.54 -> d = 0.02 (fp16 0x251F = 0.0200042...); x / d with the float32 d: 2.54 -> 127,
    // -1.27 -> -63.5 -> -64 (away from zero), 0.01 -> 0.5 -> 1, the rest 0.
    const row = new Float32Array(32);
    row[0] = 2.54;
    row[1] = -1.27;
    row[2] = 0.01;
    const out = new Uint8Array(34);
    quantizeRowQ8_0(row, out);
    const view = new DataView(out.buffer);
    expect(view.getUint16(0, true)).toBe(0x251f);
    expect(float16BitsToNumber(0x251f)).toBeCloseTo(0.02, 4);
    expect([view.getInt8(2), view.getInt8(3), view.getInt8(4), view.getInt8(5)]).toEqual([127, -64, 1, 0]);
  });

  it('q4_0: d = (value of largest magnitude) / -8, codes min(15, trunc(x / d + 8.5)), nibbles j | j+16', () => {
    // max = -4 -> d = 0.5; x / d + 8.5: -4 -> 0.5 -> 0; 3.9 -> 16.3 -> 15 (clamped); 1 -> 10.5 -> 10;
    // 0 -> 8.5 -> 8 (every other value).
    const row = new Float32Array(32);
    row[0] = -4;
    row[16] = 3.9;
    row[1] = 1;
    const out = new Uint8Array(18);
    quantizeRowQ4_0(row, out);
    expect(new DataView(out.buffer).getUint16(0, true)).toBe(0x3800); // 0.5 in fp16
    expect(out[2]).toBe(0 | (15 << 4));
    expect(out[3]).toBe(10 | (8 << 4));
    expect(out[4]).toBe(8 | (8 << 4));
  });

  it('dequantized q8_0 / q4_0 stay within half a step / one step of the input', () => {
    let state = 7;
    const row = Float32Array.from({ length: 256 }, () => {
      state = (state * 1103515245 + 12345) % 2147483648;
      return (state / 2147483648 - 0.5) * 3;
    });
    const q8 = new Uint8Array(8 * 34);
    quantizeRowQ8_0(row, q8);
    const q4 = new Uint8Array(8 * 18);
    quantizeRowQ4_0(row, q4);
    const v8 = new DataView(q8.buffer);
    const v4 = new DataView(q4.buffer);
    for (let block = 0; block < 8; block++) {
      const d8 = float16BitsToNumber(v8.getUint16(block * 34, true));
      const d4 = float16BitsToNumber(v4.getUint16(block * 18, true));
      for (let j = 0; j < 32; j++) {
        const x = row[block * 32 + j]!;
        // fp16 rounding of d moves the step by <= 2^-11 relative: 127 steps * 2^-11 < 0.07 step.
        expect(Math.abs(v8.getInt8(block * 34 + 2 + j) * d8 - x)).toBeLessThanOrEqual(0.57 * d8);
        const byte = q4[block * 18 + 2 + (j % 16)]!;
        const code = j < 16 ? byte & 15 : byte >> 4;
        expect(Math.abs((code - 8) * d4 - x)).toBeLessThanOrEqual(1.01 * Math.abs(d4));
      }
    }
  });

  it("traitlens' symmetric int4 / int8 blocks (zeroPoints: false) are q4_0 / q8_0's weights exactly", () => {
    let state = 99;
    const rows = 6;
    const columns = 256;
    const values = Float32Array.from({ length: rows * columns }, () => {
      state = (state * 1664525 + 1013904223) >>> 0;
      return (state / 2 ** 32 - 0.5) * (state % 7 === 0 ? 3 : 0.2);
    });
    for (const [type, bits] of [
      ['q4_0', 4],
      ['q8_0', 8],
    ] as const) {
      const settings = { bits, blockSize: 32, zeroPoints: false } as const;
      const mine = dequantizeBlockwise(
        quantizeBlockwise(values, rows, columns, settings),
        rows,
        columns,
        settings,
      );
      const theirs = dequantizeRows(type, encodeGgmlRows(type, values, columns), rows * columns);
      expect(Array.from(mine), type).toEqual(Array.from(theirs, (value) => value));
    }
  });

  it('permutes q/k rows per head from half-split to interleaved rotary pairs', () => {
    // 1 head, head dim 4, 1 column: rows [a0 a1 b0 b1] (halves a, b) -> [a0 b0 a1 b1].
    expect(Array.from(permuteForInterleavedRotary(Float32Array.from([0, 1, 2, 3]), 1, 4))).toEqual([
      0, 2, 1, 3,
    ]);
    // 2 heads x head dim 2, 2 columns: pairs are already adjacent, nothing moves.
    const two = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(Array.from(permuteForInterleavedRotary(two, 2, 2))).toEqual(Array.from(two));
  });
});

describe.skipIf(!existsSync(stories))('convertLlamaToGguf on stories260k', () => {
  it('writes a GGUF whose header names every tensor in ggml order and type', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'traitlens-gguf-convert-'));
    folders.push(folder);
    const path = join(folder, 'q8.gguf');
    await convertLlamaToGguf({ modelDirectory: stories, outputPath: path, type: 'q8_0' });
    const file = parseGguf(new Uint8Array(await readFile(path)), path);
    const byName = new Map(file.tensors.map((tensor) => [tensor.name, tensor]));
    expect(file.tensors.length).toBe(1 + 5 * 9 + 1); // tied: no output.weight
    expect(byName.get('blk.0.attn_q.weight')).toMatchObject({ dimensions: [64n, 64n], ggmlType: 8 });
    expect(byName.get('blk.0.attn_k.weight')).toMatchObject({ dimensions: [64n, 32n], ggmlType: 8 });
    // 172 columns are not a multiple of 32: kept f32.
    expect(byName.get('blk.4.ffn_down.weight')).toMatchObject({ dimensions: [172n, 64n], ggmlType: 0 });
    expect(byName.get('output_norm.weight')).toMatchObject({ dimensions: [64n], ggmlType: 0 });
    expect(file.metadata.get('tokenizer.ggml.model')).toEqual({ type: 'string', value: 'llama' });
    expect(file.metadata.get('llama.attention.head_count_kv')).toEqual({ type: 'uint32', value: 4 });
  });

  it('llama.cpp generates the same greedy tokens as traitlens from the converted f32 weights', async (context) => {
    const engine = await openLlamaCpp();
    if (typeof engine === 'string') {
      context.skip(`skipped: ${engine}`);
      return;
    }
    const folder = await mkdtemp(join(tmpdir(), 'traitlens-gguf-greedy-'));
    folders.push(folder);
    const path = join(folder, 'f32.gguf');
    await convertLlamaToGguf({ modelDirectory: stories, outputPath: path, type: 'f32' });
    const traitlens = await loadModel(stories, { threads: 1 });
    const prompts = [
      [1, 403, 407, 261, 378, 365, 276],
      [1, 79, 300, 283, 270, 346, 325, 289, 266, 484, 319],
    ];
    const newTokens = 40;
    const ours = await traitlens.generate(prompts, { maxNewTokens: newTokens, stopTokenIds: [] });
    await traitlens.dispose();
    const model = await engine.loadModel(path);
    const llamaContext = await model.createContext({
      contextSize: 128,
      sequences: prompts.length,
      threads: 1,
    });
    const theirs = await generateGreedy(allSequences(llamaContext), prompts, newTokens);
    await llamaContext.dispose();
    await model.dispose();
    await engine.dispose();
    expect(theirs).toEqual(ours.map((row) => row.responseTokenIds));
  });

  // llama.cpp rounds the activations to q8_0 for its quantized dot products, so only a prefix of a long
  // greedy run is expected to agree (measured: q8_0 8 of 8, q4_0 3 of 8 on this 64-wide model, whose
  // q4_0 tokens differ from the f32 model's from the first one on); a wrong block layout or nibble
  // order breaks the first token already.
  it.for([
    ['q8_0', 8],
    ['q4_0', 3],
  ] as const)(
    'llama.cpp on %s generates what traitlens generates from the same weights dequantized (%i tokens)',
    async ([type, newTokens], context) => {
      const engine = await openLlamaCpp();
      if (typeof engine === 'string') {
        context.skip(`skipped: ${engine}`);
        return;
      }
      const folder = await mkdtemp(join(tmpdir(), 'traitlens-gguf-quantized-'));
      folders.push(folder);
      const path = join(folder, `${type}.gguf`);
      await convertLlamaToGguf({ modelDirectory: stories, outputPath: path, type });
      const reference = await loadModel(await roundTripThroughQuantization(stories, type), { threads: 1 });
      const prompts = [[1, 403, 407, 261, 378, 365, 276]];
      const ours = await reference.generate(prompts, { maxNewTokens: newTokens, stopTokenIds: [] });
      await reference.dispose();
      const model = await engine.loadModel(path);
      const llamaContext = await model.createContext({ contextSize: 64, sequences: 1, threads: 1 });
      const theirs = await generateGreedy(allSequences(llamaContext), prompts, newTokens);
      await llamaContext.dispose();
      await model.dispose();
      await engine.dispose();
      expect(theirs).toEqual(ours.map((row) => row.responseTokenIds));
    },
  );
});
