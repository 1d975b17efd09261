/**
 * The float64 parity cases on the WebGPU provider (SwiftShader on machines without a GPU: see
 * webgpu-environment.ts; skipped, saying why, where no Vulkan driver exists). SwiftShader is slow, so CI
 * runs a subset that touches every part the GPU path could get wrong: qwen3 (q/k norms, head_dim 24 !=
 * hidden/heads), llama-rope-scaling (llama3 rotary bands) and the switchable LoRA on llama, each with
 * `steered-batch` (every site of every layer captured, add and ablate steering) and `greedy-steered`
 * (prefill + decode with the KV cache on the device, steering on every generated token). Tolerance 1e-4
 * as on the CPU. The whole matrix (every architecture and case): TRAITLENS_WEBGPU_PARITY=all, or
 * TRAITLENS_PROVIDERS=webgpu with parity.test.ts.
 */
import { join } from 'node:path';
import { describe, it } from 'vitest';
import {
  describeParity,
  loraParityDirectory,
  parityFixtureFolders,
  parityFixturesDirectory,
} from './parity-suite';
import { prepareWebGpu } from './webgpu-environment';

const webgpu = await prepareWebGpu();
const all = process.env.TRAITLENS_WEBGPU_PARITY === 'all';

if (webgpu.available) {
  describeParity('WebGPU parity with the float64 reference', {
    providers: ['webgpu'],
    // SwiftShader runs shaders on the CPU: generous limits for loaded CI machines (nothing is timed).
    timeout: 10 * 60 * 1000,
    folders: all
      ? parityFixtureFolders()
      : [
          join(parityFixturesDirectory, 'qwen3'),
          join(parityFixturesDirectory, 'llama-rope-scaling'),
          ...parityFixtureFolders().filter((folder) => folder === loraParityDirectory),
        ],
    ...(all ? {} : { cases: ['steered-batch', 'greedy-steered'] }),
  });
} else {
  describe('WebGPU parity with the float64 reference', () => {
    it.skip(`skipped: ${webgpu.reason}`, () => undefined);
  });
}
