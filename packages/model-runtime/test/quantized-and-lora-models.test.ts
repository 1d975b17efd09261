/**
 * Weight-only int8/int4 models against fp32 (error reported, int8 held to a stated tolerance), and LoRA
 * in switchable and merged modes against a checkpoint merged by hand in float64 and run as a plain model
 * (whose runtime is itself held to the float64 reference by parity.test.ts).
 */
import { copyFile, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  readSafetensors,
  type SafetensorsTensorInput,
  TraitlensError,
  writeSafetensors,
} from '@traitlens/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LanguageModel, loadModel } from '../src/index';
import { createTinyModel, type TinyModel } from '../src/testing/index';
import { hasStories260k, stories260kDirectory, testCacheDirectory } from './shared-models';

const text =
  'Once upon a time, there was a little dog named Max. He liked to run in the park with his friend.';

function compareLogits(
  reference: Float32Array,
  candidate: Float32Array,
  vocab: number,
): { maxAbs: number; top1: number } {
  let maxAbs = 0;
  let agree = 0;
  const positions = reference.length / vocab;
  for (let p = 0; p < positions; p++) {
    let bestReference = 0;
    let bestCandidate = 0;
    for (let v = 0; v < vocab; v++) {
      const i = p * vocab + v;
      maxAbs = Math.max(maxAbs, Math.abs(reference[i]! - candidate[i]!));
      if (reference[i]! > reference[p * vocab + bestReference]!) bestReference = v;
      if (candidate[i]! > candidate[p * vocab + bestCandidate]!) bestCandidate = v;
    }
    if (bestReference === bestCandidate) agree++;
  }
  return { maxAbs, top1: agree / positions };
}

/**
 * Logit error of fp16, int8 and int4 (block 32 and 128; symmetric blocks without zero points at 32) against
 * fp32 over `text`, printed for the record.
 */
async function reportQuantizationError(
  directory: string,
  label: string,
): Promise<Record<string, { maxAbs: number; top1: number }>> {
  const fp32 = await loadModel(directory, { cacheDirectory: testCacheDirectory, threads: 1 });
  const [reference] = await fp32.forward(text);
  const report: Record<string, { maxAbs: number; top1: number }> = {};
  for (const [dtype, blockSize, zeroPoints] of [
    ['fp16', 32, true],
    ['int8', 32, true],
    ['int4', 32, true],
    ['int4', 128, true],
    ['int8', 32, false],
    ['int4', 32, false],
  ] as const) {
    const model = await loadModel(directory, {
      cacheDirectory: testCacheDirectory,
      threads: 1,
      dtype,
      blockSize,
      zeroPoints,
    });
    const [row] = await model.forward(text);
    const key = `${dtype}/b${blockSize}${zeroPoints ? '' : '/symmetric'}`;
    report[key] = compareLogits(reference!.logits, row!.logits, fp32.config.vocabSize);
    await model.dispose();
  }
  await fp32.dispose();
  console.info(
    `${label} quantization error vs fp32 over ${reference!.tokenIds.length} tokens: ${JSON.stringify(report)}`,
  );
  return report;
}

describe.skipIf(!hasStories260k)('fp16 weights and int8/int4 weight-only quantization on stories260k', () => {
  it('stays close to fp32: fp16 max abs < 0.05, int8 (asymmetric and symmetric) top-1 agreement >= 0.95 and max abs logit error < 0.5; int4 top-1 >= 0.6', async () => {
    const report = await reportQuantizationError(stories260kDirectory, 'stories260k');
    expect(report['fp16/b32']!.maxAbs).toBeLessThan(0.05);
    expect(report['fp16/b32']!.top1).toBe(1);
    // int4 weights with fp16 activations (the GPU setting) stay close to int4 with fp32 activations.
    const mixed = await loadModel(stories260kDirectory, {
      cacheDirectory: testCacheDirectory,
      threads: 1,
      dtype: 'int4',
      computeDtype: 'fp16',
    });
    const int4 = await loadModel(stories260kDirectory, {
      cacheDirectory: testCacheDirectory,
      threads: 1,
      dtype: 'int4',
    });
    const [mixedRow] = await mixed.forward(text);
    const [int4Row] = await int4.forward(text);
    const drift = compareLogits(int4Row!.logits, mixedRow!.logits, 512);
    console.info(`stories260k int4 fp16-compute vs int4 fp32-compute: ${JSON.stringify(drift)}`);
    expect(drift.top1).toBeGreaterThanOrEqual(0.9);
    await Promise.all([mixed.dispose(), int4.dispose()]);
    for (const int8 of ['int8/b32', 'int8/b32/symmetric']) {
      expect(report[int8]!.top1).toBeGreaterThanOrEqual(0.95);
      expect(report[int8]!.maxAbs).toBeLessThan(0.5);
    }
    expect(report['int4/b32']!.top1).toBeGreaterThanOrEqual(0.6);
    expect(report['int4/b32/symmetric']!.top1).toBeGreaterThanOrEqual(0.6);
  });
});

describe('fp16 weights and int8/int4 weight-only quantization on a generated Llama (hidden 256, 4 layers)', () => {
  it('reports logit error and top-1 agreement against fp32; int8 (asymmetric and symmetric) top-1 >= 0.9', async () => {
    const tiny = await createTinyModel({
      architecture: 'LlamaForCausalLM',
      seed: 31,
      hiddenSize: 256,
      intermediateSize: 688,
      layerCount: 4,
      headCount: 8,
      kvHeadCount: 2,
    });
    const report = await reportQuantizationError(tiny.directory, 'generated-model');
    await tiny.remove();
    expect(report['fp16/b32']!.maxAbs).toBeLessThan(0.05);
    expect(report['int8/b32']!.top1).toBeGreaterThanOrEqual(0.9);
    expect(report['int8/b32/symmetric']!.top1).toBeGreaterThanOrEqual(0.9);
  });
});

describe('LoRA adapters', () => {
  let tiny: TinyModel;
  let adapterDirectory: string;
  let mergedDirectory: string;
  let base: LanguageModel;

  beforeAll(async () => {
    tiny = await createTinyModel({ architecture: 'LlamaForCausalLM', seed: 21, layerCount: 2 });
    const weights = await readSafetensors(join(tiny.directory, 'model.safetensors'));
    adapterDirectory = await mkdtemp(join(tmpdir(), 'traitlens-lora-'));
    // A PEFT adapter: rank 4, alpha 8 (scaling 2), on q, v, o, gate and down of both layers.
    const rank = 4;
    const alpha = 8;
    let state = 99;
    const random = () => {
      state = (state * 1103515245 + 12345) % 2147483648;
      return (state / 2147483648 - 0.5) * 0.3;
    };
    const adapterTensors: Record<string, SafetensorsTensorInput> = {};
    const merged = new Map<string, Float64Array>();
    for (const [name, tensor] of weights.tensors) merged.set(name, Float64Array.from(tensor.data));
    for (let layer = 0; layer < 2; layer++) {
      for (const module of [
        'self_attn.q_proj',
        'self_attn.v_proj',
        'self_attn.o_proj',
        'mlp.gate_proj',
        'mlp.down_proj',
      ]) {
        const base = `model.layers.${layer}.${module}`;
        const [out, inFeatures] = weights.tensors.get(`${base}.weight`)!.shape as [number, number];
        const a = Float32Array.from({ length: rank * inFeatures }, random);
        const b = Float32Array.from({ length: out * rank }, random);
        adapterTensors[`base_model.model.${base}.lora_A.weight`] = {
          dtype: 'F32',
          shape: [rank, inFeatures],
          data: a,
        };
        adapterTensors[`base_model.model.${base}.lora_B.weight`] = {
          dtype: 'F32',
          shape: [out, rank],
          data: b,
        };
        // Independent float64 merge: W + (alpha / r) * B @ A.
        const w = merged.get(`${base}.weight`)!;
        for (let o = 0; o < out; o++) {
          for (let i = 0; i < inFeatures; i++) {
            let sum = 0;
            for (let r = 0; r < rank; r++) sum += b[o * rank + r]! * a[r * inFeatures + i]!;
            w[o * inFeatures + i]! += (alpha / rank) * sum;
          }
        }
      }
    }
    await writeSafetensors(join(adapterDirectory, 'adapter_model.safetensors'), adapterTensors);
    await writeFileJson(join(adapterDirectory, 'adapter_config.json'), {
      peft_type: 'LORA',
      r: rank,
      lora_alpha: alpha,
      target_modules: ['q_proj', 'v_proj', 'o_proj', 'gate_proj', 'down_proj'],
      bias: 'none',
      base_model_name_or_path: 'tiny',
    });
    mergedDirectory = await mkdtemp(join(tmpdir(), 'traitlens-merged-'));
    for (const file of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json'])
      await copyFile(join(tiny.directory, file), join(mergedDirectory, file));
    await writeSafetensors(
      join(mergedDirectory, 'model.safetensors'),
      Object.fromEntries(
        [...merged].map(([name, data]) => [
          name,
          { dtype: 'F32', shape: weights.tensors.get(name)!.shape, data: Float32Array.from(data) },
        ]),
      ),
    );
    base = await loadModel(tiny.directory, { cacheDirectory: testCacheDirectory, threads: 1 });
  });
  afterAll(async () => {
    await base.dispose();
    await tiny.remove();
  });

  it('switchable: scale 0 is the base model, scale 1 the merged model, both in one batch', async () => {
    const reference = await loadModel(mergedDirectory, { cacheDirectory: testCacheDirectory, threads: 1 });
    const model = await loadModel(tiny.directory, {
      cacheDirectory: testCacheDirectory,
      threads: 1,
      lora: { source: adapterDirectory },
    });
    const prompts = ['The robot saw the light.', 'The robot saw the light.'];
    const [clean, adapted] = await model.forward(prompts, {
      loraScale: [0, 1],
      capture: [{ layer: 1, site: 'resid_post' }],
    });
    const [baseRow] = await base.forward(prompts[0]!, { capture: [{ layer: 1, site: 'resid_post' }] });
    const [mergedRow] = await reference.forward(prompts[0]!, { capture: [{ layer: 1, site: 'resid_post' }] });
    const vocab = model.config.vocabSize;
    expect(compareLogits(baseRow!.logits, clean!.logits, vocab).maxAbs).toBeLessThan(1e-5);
    expect(compareLogits(mergedRow!.logits, adapted!.logits, vocab).maxAbs).toBeLessThan(1e-4);
    expect(compareLogits(baseRow!.logits, adapted!.logits, vocab).maxAbs).toBeGreaterThan(1e-2);
    const [cleanScores, adaptedScores] = await model.score(prompts, { loraScale: [0, 1] });
    const [baseScores] = await base.score(prompts[0]!);
    expect(compareLogits(baseScores!, cleanScores!, vocab).maxAbs).toBeLessThan(1e-5);
    expect(compareLogits(baseScores!, adaptedScores!, vocab).maxAbs).toBeGreaterThan(1e-3);
    const generated = await model.generate(prompts, { loraScale: [0, 1], maxNewTokens: 5, stopTokenIds: [] });
    const mergedGenerated = await reference.generate(prompts[0]!, { maxNewTokens: 5, stopTokenIds: [] });
    const baseGenerated = await base.generate(prompts[0]!, { maxNewTokens: 5, stopTokenIds: [] });
    expect(generated[0]!.responseTokenIds).toEqual(baseGenerated[0]!.responseTokenIds);
    expect(generated[1]!.responseTokenIds).toEqual(mergedGenerated[0]!.responseTokenIds);
    await model.dispose();
    await reference.dispose();
  });

  it('merged: equals the hand-merged checkpoint; int8 after merging stays close', async () => {
    const reference = await loadModel(mergedDirectory, { cacheDirectory: testCacheDirectory, threads: 1 });
    const model = await loadModel(tiny.directory, {
      cacheDirectory: testCacheDirectory,
      threads: 1,
      lora: { source: adapterDirectory, mode: 'merged' },
    });
    const [expected] = await reference.forward(text);
    const [actual] = await model.forward(text);
    expect(compareLogits(expected!.logits, actual!.logits, model.config.vocabSize).maxAbs).toBeLessThan(1e-4);
    await expect(model.forward(text, { loraScale: 0 })).rejects.toThrow(/without a switchable LoRA/);
    // The GPU setting: int4 weights, fp16 compute, switchable branches in fp16.
    const gpuLike = await loadModel(tiny.directory, {
      cacheDirectory: testCacheDirectory,
      threads: 1,
      dtype: 'int4',
      computeDtype: 'fp16',
      lora: { source: adapterDirectory },
    });
    const [gpuClean, gpuAdapted] = await gpuLike.forward([text, text], { loraScale: [0, 1] });
    const [baseRow] = await base.forward(text);
    expect(
      compareLogits(baseRow!.logits, gpuClean!.logits, model.config.vocabSize).top1,
    ).toBeGreaterThanOrEqual(0.6);
    expect(
      compareLogits(expected!.logits, gpuAdapted!.logits, model.config.vocabSize).top1,
    ).toBeGreaterThanOrEqual(0.6);
    await gpuLike.dispose();
    const quantized = await loadModel(tiny.directory, {
      cacheDirectory: testCacheDirectory,
      threads: 1,
      dtype: 'int8',
      lora: { source: adapterDirectory, mode: 'merged' },
    });
    const [int8] = await quantized.forward(text);
    expect(compareLogits(expected!.logits, int8!.logits, model.config.vocabSize).top1).toBeGreaterThanOrEqual(
      0.9,
    );
    await Promise.all([model.dispose(), reference.dispose(), quantized.dispose()]);
  });

  it('rejects corrupt adapters and adapters for another base model', async () => {
    const broken = await mkdtemp(join(tmpdir(), 'traitlens-lora-bad-'));
    await writeFileJson(join(broken, 'adapter_config.json'), { r: 4, lora_alpha: 8 });
    const truncated = (await readFile(join(adapterDirectory, 'adapter_model.safetensors'))).subarray(0, 300);
    await writeFileBytes(join(broken, 'adapter_model.safetensors'), truncated);
    const error = await loadModel(tiny.directory, {
      cacheDirectory: testCacheDirectory,
      lora: { source: broken },
    }).catch((e: unknown) => e);
    expect(TraitlensError.hasCode(error, 'INVALID_SAFETENSORS')).toBe(true);

    const other = await createTinyModel({
      architecture: 'LlamaForCausalLM',
      seed: 5,
      hiddenSize: 96,
      layerCount: 2,
    });
    const mismatch = await loadModel(other.directory, {
      cacheDirectory: testCacheDirectory,
      lora: { source: adapterDirectory },
    }).catch((e: unknown) => e);
    expect(TraitlensError.hasCode(mismatch, 'SHAPE_MISMATCH')).toBe(true);
    expect((mismatch as Error).message).toMatch(/trained for another base model \(tiny\)/);
    await other.remove();
    const missing = await loadModel(tiny.directory, { lora: { source: join(broken, 'nope') } }).catch(
      (e: unknown) => e,
    );
    expect(TraitlensError.hasCode(missing, 'FILE_NOT_FOUND')).toBe(true);
  });
});

async function writeFileJson(path: string, value: unknown): Promise<void> {
  const { writeFile } = await import('node:fs/promises');
  await writeFile(path, JSON.stringify(value));
}

async function writeFileBytes(path: string, bytes: Uint8Array): Promise<void> {
  const { writeFile } = await import('node:fs/promises');
  await writeFile(path, bytes);
}
