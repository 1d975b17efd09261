import { copyFile, mkdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TraitlensError } from '@traitlens/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LanguageModel, loadModel } from '../src/index';
import { createTinyModel, type TinyModel } from '../src/testing/index';
import { testCacheDirectory } from './shared-models';

async function expectTraitlensError(promise: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(TraitlensError.isInstance(error), `expected a TraitlensError, got ${String(error)}`).toBe(true);
  expect((error as TraitlensError).code).toBe(code);
  expect((error as Error).message).toMatch(message);
}

describe('bad input gets a clear TraitlensError', () => {
  let tiny: TinyModel;
  let model: LanguageModel;
  beforeAll(async () => {
    tiny = await createTinyModel({ architecture: 'LlamaForCausalLM', seed: 7 });
    model = await loadModel(tiny.directory, { cacheDirectory: testCacheDirectory, threads: 1 });
  });
  afterAll(async () => {
    await model.dispose();
    await tiny.remove();
  });

  it('a missing model folder or config.json', async () => {
    await expectTraitlensError(
      loadModel(join(tiny.directory, 'nope')),
      'FILE_NOT_FOUND',
      /Model folder not found: .*nope/,
    );
    const copy = join(tiny.directory, 'copy-without-config');
    await mkdir(copy);
    await expectTraitlensError(loadModel(copy), 'FILE_NOT_FOUND', /config\.json is missing/);
  });

  it('missing weights and a truncated safetensors file', async () => {
    const copy = join(tiny.directory, 'truncated');
    await mkdir(copy, { recursive: true });
    for (const file of ['config.json', 'tokenizer.json', 'tokenizer_config.json'])
      await copyFile(join(tiny.directory, file), join(copy, file));
    await expectTraitlensError(
      loadModel(copy, { cacheDirectory: testCacheDirectory }),
      'FILE_NOT_FOUND',
      /No weights in .*model\.safetensors/,
    );
    await copyFile(join(tiny.directory, 'model.safetensors'), join(copy, 'model.safetensors'));
    await truncate(join(copy, 'model.safetensors'), 5000);
    await expectTraitlensError(
      loadModel(copy, { cacheDirectory: testCacheDirectory }),
      'INVALID_SAFETENSORS',
      /truncated: tensor ".*" ends at byte \d+ but the file has 5000 bytes/,
    );
  });

  it('an unsupported architecture', async () => {
    const copy = join(tiny.directory, 'gemma');
    await mkdir(copy, { recursive: true });
    const config = JSON.parse(await readFile(join(tiny.directory, 'config.json'), 'utf8'));
    await writeFile(
      join(copy, 'config.json'),
      JSON.stringify({ ...config, architectures: ['GemmaForCausalLM'] }),
    );
    await expectTraitlensError(
      loadModel(copy),
      'UNSUPPORTED_ARCHITECTURE',
      /"GemmaForCausalLM" is not supported\. Supported: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM/,
    );
    await rm(copy, { recursive: true });
  });

  it('weights that do not match config.json', async () => {
    const copy = join(tiny.directory, 'mismatch');
    await mkdir(copy, { recursive: true });
    for (const file of ['tokenizer.json', 'tokenizer_config.json', 'model.safetensors'])
      await copyFile(join(tiny.directory, file), join(copy, file));
    const config = JSON.parse(await readFile(join(tiny.directory, 'config.json'), 'utf8'));
    await writeFile(
      join(copy, 'config.json'),
      JSON.stringify({ ...config, intermediate_size: (config.intermediate_size as number) + 8 }),
    );
    await expectTraitlensError(
      loadModel(copy, { cacheDirectory: testCacheDirectory }),
      'SHAPE_MISMATCH',
      /mlp\.gate_proj\.weight" has shape \[\d+, \d+\] but config\.json implies/,
    );
  });

  it('a steering vector of the wrong width', async () => {
    const vector = new Float32Array(model.config.hiddenSize + 3);
    await expectTraitlensError(
      model.forward('hello', {
        steer: [
          { point: { layer: 0, site: 'resid_post' }, mode: 'add', vector, coefficient: 1, positions: 'all' },
        ],
      }),
      'MODEL_MISMATCH',
      new RegExp(
        `has ${model.config.hiddenSize + 3} values but the model's hidden size is ${model.config.hiddenSize}`,
      ),
    );
  });

  it('a layer out of range, for capture and for steering', async () => {
    const layers = model.config.layerCount;
    await expectTraitlensError(
      model.forward('hello', { capture: [{ layer: layers, site: 'resid_post' }] }),
      'LAYER_OUT_OF_RANGE',
      new RegExp(`Capture layer ${layers} is out of range: the model has ${layers} layers`),
    );
    const vector = new Float32Array(model.config.hiddenSize);
    await expectTraitlensError(
      model.generate('hello', {
        steer: [
          { point: { layer: -1, site: 'resid_pre' }, mode: 'add', vector, coefficient: 1, positions: 'all' },
        ],
      }),
      'LAYER_OUT_OF_RANGE',
      /Steering layer -1 is out of range/,
    );
  });

  it('token ids outside the vocabulary and chat messages for a model without a template', async () => {
    await expectTraitlensError(
      model.forward([[1, model.config.vocabSize]]),
      'INVALID_ARGUMENT',
      /outside the vocabulary/,
    );
    const base = await createTinyModel({ seed: 3, chatTemplate: null });
    const baseModel = await loadModel(base.directory, { cacheDirectory: testCacheDirectory, threads: 1 });
    await expectTraitlensError(
      baseModel.generate([[{ role: 'user', content: 'hi' }]]),
      'CHAT_TEMPLATE_ERROR',
      /no chat template/,
    );
    await baseModel.dispose();
    await base.remove();
  });
});

describe('sliding attention window', () => {
  it('refuses sequences longer than a Mistral sliding window instead of silently attending beyond it', async () => {
    const tiny = await createTinyModel({ architecture: 'MistralForCausalLM', seed: 9 });
    const configPath = join(tiny.directory, 'config.json');
    const config = JSON.parse(await readFile(configPath, 'utf8'));
    await writeFile(configPath, JSON.stringify({ ...config, sliding_window: 8 }));
    const model = await loadModel(tiny.directory, { cacheDirectory: testCacheDirectory, threads: 1 });
    expect(model.config.slidingWindow).toBe(8);
    await expect(model.forward([[1, 2, 3, 4, 5, 6, 7, 8, 9]])).rejects.toThrow(
      /sliding attention window of 8/,
    );
    await expect(model.generate([[1, 2, 3]], { maxNewTokens: 6 })).rejects.toThrow(
      /sliding attention window of 8/,
    );
    expect(
      (await model.generate([[1, 2, 3]], { maxNewTokens: 5, stopTokenIds: [] }))[0]!.responseTokenIds,
    ).toHaveLength(5);
    await model.dispose();
    await tiny.remove();
  });
});

describe('execution providers', () => {
  it('falls back in order and says so when a provider is unavailable', async () => {
    const { existsSync, readdirSync } = await import('node:fs');
    const { createRequire } = await import('node:module');
    const binding = join(createRequire(import.meta.url).resolve('onnxruntime-node'), '../../bin');
    const cudaInstalled =
      existsSync(binding) &&
      JSON.stringify(readdirSync(binding, { recursive: true })).includes('libonnxruntime_providers_cuda');
    const tiny = await createTinyModel({ seed: 8 });
    const warnings: string[] = [];
    const model = await loadModel(tiny.directory, {
      cacheDirectory: testCacheDirectory,
      providers: ['cuda', 'cpu'],
      onWarning: (message) => warnings.push(message),
    });
    const [result] = await model.generate('hi', { maxNewTokens: 2 });
    expect(result!.responseTokenIds.length).toBeGreaterThan(0);
    if (!cudaInstalled) {
      expect(warnings.join('\n')).toMatch(
        /execution provider "cuda" is unavailable .*; falling back to "cpu"/,
      );
      // The provider is probed when the model loads, so the error comes before any session.
      const error = await loadModel(tiny.directory, {
        cacheDirectory: testCacheDirectory,
        providers: ['cuda'],
      }).catch((caught: unknown) => caught);
      expect(TraitlensError.hasCode(error, 'PROVIDER_UNAVAILABLE')).toBe(true);
      expect((error as Error).message).toMatch(/docs\/gpu\.md/);
    }
    await model.dispose();
    await tiny.remove();
  });
});
