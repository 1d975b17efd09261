/**
 * int8/int4 models store the embedding quantized (GatherBlockQuantized over the MatMulNBits codes; a
 * tied model's output projection reuses the same codes): the rows the graph gathers (captured at
 * resid_pre.0) must equal the float64 dequantization of the same codes (quantizeBlockwise +
 * dequantizeBlockwise in TypeScript) to float32 rounding, < 1e-6, on the CPU and, where a Vulkan driver
 * exists, on WebGPU (SwiftShader on machines without a GPU).
 */

import { SafetensorsCheckpoint } from '@traitlens/core';
import { afterAll, describe, expect, it } from 'vitest';
import { type ExecutionProviderName, loadModel } from '../src/index';
import { dequantizeBlockwise, quantizeBlockwise } from '../src/quantization/quantize-blockwise';
import { createTinyModel } from '../src/testing/index';
import { testCacheDirectory } from './shared-models';
import { prepareWebGpu } from './webgpu-environment';

const webgpu = await prepareWebGpu();
const providers: ExecutionProviderName[] = webgpu.available ? ['cpu', 'webgpu'] : ['cpu'];
const tokenIds = [304, 72, 101, 108, 108, 111, 33, 0, 255, 303];

// SwiftShader runs shaders on the CPU: generous limits for loaded CI machines (nothing is timed).
describe('quantized embedding (GatherBlockQuantized)', { timeout: 10 * 60 * 1000 }, () => {
  const models: Array<{ dispose(): Promise<void> }> = [];
  afterAll(async () => {
    for (const model of models) await model.dispose();
  });

  for (const provider of providers)
    for (const bits of [4, 8] as const)
      for (const zeroPoints of [true, false]) {
        const blocks = zeroPoints ? 'asymmetric' : 'symmetric (no zero points)';
        it(`int${bits} ${blocks} on ${provider}: gathered rows equal the float64 dequantized codes`, async () => {
          const tiny = await createTinyModel({ seed: 7, layerCount: 1, tieWordEmbeddings: true });
          const blockSize = 32;
          const model = await loadModel(tiny.directory, {
            cacheDirectory: testCacheDirectory,
            threads: 1,
            dtype: bits === 4 ? 'int4' : 'int8',
            blockSize,
            zeroPoints,
            providers: [provider],
          });
          models.push(model);
          const d = model.config.hiddenSize;
          const checkpoint = await SafetensorsCheckpoint.open(tiny.directory);
          const embedding = await checkpoint.readRowsAsFloat32(
            'model.embed_tokens.weight',
            0,
            model.config.vocabSize,
          );
          await checkpoint.close();
          const settings = { bits, blockSize, zeroPoints } as const;
          const quantized = quantizeBlockwise(embedding, model.config.vocabSize, d, settings);
          const reference = dequantizeBlockwise(quantized, model.config.vocabSize, d, settings);
          const [row] = await model.forward([tokenIds], { capture: [{ layer: 0, site: 'resid_pre' }] });
          const gathered = row!.captures.get('resid_pre.0')!;
          let worst = 0;
          tokenIds.forEach((id, t) => {
            for (let i = 0; i < d; i++)
              worst = Math.max(worst, Math.abs(gathered[t * d + i]! - reference[id * d + i]!));
          });
          expect(worst).toBeLessThan(1e-6);
          expect(row!.logits.every(Number.isFinite)).toBe(true);
        });
      }
});
