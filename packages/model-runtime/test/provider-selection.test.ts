/**
 * loadModel chooses its provider before converting weights or creating a session: a WebGPU device
 * without shader-f16 (SwiftShader) is passed over for fp16 compute with a warning, or loading fails
 * with PROVIDER_UNAVAILABLE naming the fix, instead of failing at the first forward pass. WebGPU cases
 * need a Vulkan driver (docs/gpu.md: SwiftShader from Debian's chromium) and skip, saying so, without.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { TraitlensError } from '@traitlens/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, probeDevice } from '../src/index';
import { createTinyModel, type TinyModel } from '../src/testing/index';
import { testCacheDirectory } from './shared-models';
import { prepareWebGpu } from './webgpu-environment';

await prepareWebGpu();
const webgpu = await probeDevice('webgpu');

describe('provider selection in loadModel', () => {
  let tiny: TinyModel;
  beforeAll(async () => {
    tiny = await createTinyModel({ architecture: 'LlamaForCausalLM', seed: 5 });
  });
  afterAll(async () => {
    await tiny.remove();
  });

  it.runIf(webgpu.available && webgpu.float16 === false)(
    'falls back to the CPU for fp16 compute where WebGPU lacks shader-f16, and the fallback model runs',
    async () => {
      const warnings: string[] = [];
      const model = await loadModel(tiny.directory, {
        cacheDirectory: testCacheDirectory,
        providers: ['webgpu', 'cpu'],
        dtype: 'int4',
        computeDtype: 'fp16',
        threads: 1,
        onWarning: (message) => warnings.push(message),
      });
      try {
        expect(warnings).toHaveLength(1);
        expect(warnings[0]).toMatch(/does not support shader-f16.*falling back to "cpu"/);
        const [row] = await model.forward([[1, 5, 9]], { logits: 'last' });
        expect(row!.logits.every(Number.isFinite)).toBe(true);
        expect(model.transferStats!().provider).toBe('cpu');
      } finally {
        await model.dispose();
      }
    },
  );

  it.runIf(webgpu.available && webgpu.float16 === false)(
    'fails before converting any weight when no listed provider can compute in fp16',
    async () => {
      const cacheDirectory = join(testCacheDirectory, 'f16-refused');
      const error = await loadModel(tiny.directory, {
        cacheDirectory,
        providers: ['webgpu'],
        dtype: 'fp16',
      }).catch((caught: unknown) => caught);
      expect(TraitlensError.isInstance(error)).toBe(true);
      expect((error as TraitlensError).code).toBe('PROVIDER_UNAVAILABLE');
      expect((error as TraitlensError).message).toMatch(/shader-f16.*dtype fp16.*--compute-dtype fp32/);
      await expect(readdir(cacheDirectory)).rejects.toThrow(/ENOENT/);
    },
  );

  it.runIf(webgpu.available)('keeps WebGPU for fp32 compute and runs the first forward pass', async () => {
    const warnings: string[] = [];
    const model = await loadModel(tiny.directory, {
      cacheDirectory: testCacheDirectory,
      providers: ['webgpu', 'cpu'],
      dtype: 'int4',
      onWarning: (message) => warnings.push(message),
    });
    try {
      const [row] = await model.forward([[1, 5, 9]], { logits: 'last' });
      expect(row!.logits.every(Number.isFinite)).toBe(true);
      expect(model.transferStats!().provider).toBe('webgpu');
      expect(warnings).toEqual([]);
    } finally {
      await model.dispose();
    }
  });
});
