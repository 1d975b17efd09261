import { TraitlensError } from '@traitlens/core';
import { describe, expect, it } from 'vitest';
import { prepareWebGpu } from '../../test/webgpu-environment';
import { probeDevice } from './probe-execution-provider';
import { selectExecutionProvider } from './select-execution-provider';

// WebGPU needs a Vulkan driver: SwiftShader from Debian's chromium on machines without a GPU (set up by
// webgpu-environment.ts, which says so when it skips); the WebGPU cases skip where none exists.
await prepareWebGpu();
const webgpu = await probeDevice('webgpu');

describe('selectExecutionProvider', () => {
  it('takes the CPU without probing', async () => {
    const selection = await selectExecutionProvider({
      providers: ['cpu'],
      requirements: { float16: { because: 'x' } },
    });
    expect(selection).toEqual({ provider: 'cpu', providers: ['cpu'], rejected: [] });
  });

  it('falls back from an unavailable provider, saying why', async () => {
    const cuda = await probeDevice('cuda');
    const warnings: string[] = [];
    const selection = await selectExecutionProvider({
      providers: ['cuda', 'cpu'],
      onWarning: (message) => warnings.push(message),
    });
    if (cuda.available) {
      expect(selection.provider).toBe('cuda');
    } else {
      expect(selection).toMatchObject({ provider: 'cpu', providers: ['cpu'] });
      expect(selection.rejected[0]).toMatchObject({ provider: 'cuda', missing: 'unavailable' });
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/execution provider "cuda" is unavailable \(.+\); falling back to "cpu"/);
    }
  });

  it.runIf(webgpu.available && webgpu.float16 === false)(
    'passes over a WebGPU device without shader-f16 for fp16 compute, and fails naming the fix when nothing is left',
    async () => {
      const warnings: string[] = [];
      const fallback = await selectExecutionProvider({
        providers: ['webgpu', 'cpu'],
        requirements: { float16: { because: 'dtype int4 with computeDtype fp16' } },
        onWarning: (message) => warnings.push(message),
      });
      expect(fallback.provider).toBe('cpu');
      expect(warnings[0]).toMatch(/does not support shader-f16 .* dtype int4 with computeDtype fp16 needs/);
      const error = await selectExecutionProvider({
        providers: ['webgpu'],
        requirements: { float16: { because: 'dtype fp16' } },
      }).catch((caught: unknown) => caught);
      expect(TraitlensError.isInstance(error)).toBe(true);
      expect((error as TraitlensError).code).toBe('PROVIDER_UNAVAILABLE');
      expect((error as TraitlensError).message).toMatch(/shader-f16.*use --compute-dtype fp32/);
      // fp32 compute needs no f16 and stays on WebGPU.
      expect((await selectExecutionProvider({ providers: ['webgpu', 'cpu'] })).provider).toBe('webgpu');
    },
  );

  it.runIf(webgpu.available && webgpu.float16 === true)(
    'keeps a WebGPU device with shader-f16 for fp16',
    async () => {
      const selection = await selectExecutionProvider({
        providers: ['webgpu', 'cpu'],
        requirements: { float16: { because: 'dtype fp16' } },
      });
      expect(selection.provider).toBe('webgpu');
    },
  );

  it.runIf(webgpu.available)(
    'reads a buffer above the guaranteed 256 MiB only when the device holds it',
    async () => {
      // 300 MiB fits every real GPU and SwiftShader (1 GiB); the probe checks the value read back.
      const selection = await selectExecutionProvider({
        providers: ['webgpu'],
        requirements: { largestTensor: { bytes: 300 * 2 ** 20, name: 'embedding' } },
      });
      expect(selection.provider).toBe('webgpu');
    },
  );
});
