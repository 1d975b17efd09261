/**
 * Decoding on WebGPU keeps the KV cache on the device: a decode step's host<->device traffic
 * (`transferStats`) must be far below the cache it would otherwise move, while the same generation on
 * the CPU provider (where the cache is fed from host memory every step) shows the cache in the counts,
 * so the check can tell the two apart. Greedy decoding reads back only a token and a log-probability
 * per row. Changing the steering plan must not create another session (no weight reload). Runs on
 * SwiftShader where no GPU exists (webgpu-environment.ts); skipped, saying why, without a Vulkan driver.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LanguageModel, loadModel, type SteeringSpec, type TransferStats } from '../src/index';
import { parityFixturesDirectory } from './parity-suite';
import { testCacheDirectory } from './shared-models';
import { prepareWebGpu } from './webgpu-environment';

const webgpu = await prepareWebGpu();
const directory = join(parityFixturesDirectory, 'llama');
const cases = JSON.parse(readFileSync(join(directory, 'cases.json'), 'utf8')) as {
  cases: Array<{ name: string; rows: Array<{ tokenIds: number[] }> }>;
};
const prompts = cases.cases.find((c) => c.name === 'greedy')!.rows.map((row) => row.tokenIds);
const maxNewTokens = 6;

// SwiftShader runs shaders on the CPU: generous limits for loaded CI machines (nothing here is timed).
const webgpuTimeout = 10 * 60 * 1000;

describe.skipIf(!webgpu.available)('device-resident decoding on WebGPU', { timeout: webgpuTimeout }, () => {
  let gpu: LanguageModel;
  let cpu: LanguageModel;

  beforeAll(async () => {
    const options = { cacheDirectory: testCacheDirectory, threads: 1 };
    gpu = await loadModel(join(directory, 'model'), { ...options, providers: ['webgpu'] });
    cpu = await loadModel(join(directory, 'model'), { ...options, providers: ['cpu'] });
  }, webgpuTimeout);
  afterAll(async () => {
    await gpu?.dispose();
    await cpu?.dispose();
  });

  /** Bytes of the KV cache a decode step reads when `pastLength` tokens are cached (fp32). */
  function cacheBytes(model: LanguageModel, pastLength: number): number {
    const { layerCount, kvHeadCount, headDim } = model.config;
    return 2 * layerCount * prompts.length * kvHeadCount * pastLength * headDim * 4;
  }

  async function generateCounted(
    model: LanguageModel,
    options: { temperature?: number; steer?: SteeringSpec[] } = {},
  ): Promise<{ tokens: number[][]; stats: TransferStats }> {
    model.resetTransferStats!();
    const results = await model.generate(prompts, { maxNewTokens, stopTokenIds: [], seed: 1, ...options });
    return { tokens: results.map((result) => result.responseTokenIds), stats: model.transferStats!() };
  }

  it('a greedy decode step moves neither the KV cache nor logits through the host', async () => {
    const onDevice = await generateCounted(gpu);
    const onHost = await generateCounted(cpu);
    expect(onDevice.tokens).toEqual(onHost.tokens);
    const width = Math.max(...prompts.map((row) => row.length));
    // The last decode step reads a cache of width + maxNewTokens - 2 tokens.
    const lastStepCache = cacheBytes(gpu, width + maxNewTokens - 2);

    expect(onHost.stats.decode.runs).toBe(maxNewTokens - 1);
    expect(onHost.stats.kvCacheOnDevice).toBe(false);
    expect(onHost.stats.lastDecodeStep!.hostToDeviceBytes).toBeGreaterThan(lastStepCache);

    expect(onDevice.stats.provider).toBe('webgpu');
    expect(onDevice.stats.decode.runs).toBe(maxNewTokens - 1);
    expect(onDevice.stats.kvCacheOnDevice).toBe(true);
    expect(onDevice.stats.lastDecodeStep!.hostToDeviceBytes).toBeLessThan(lastStepCache / 4);
    // Back to the host: one int64 token and one float32 log-probability per row.
    expect(onDevice.stats.lastDecodeStep!.deviceToHostBytes).toBe(prompts.length * 12);
    expect(onDevice.stats.decode.deviceToHostBytes).toBe((maxNewTokens - 1) * prompts.length * 12);
    console.info(
      `bytes per decode step (B=${prompts.length}, cache ${lastStepCache} B at the last step): webgpu ${JSON.stringify(onDevice.stats.lastDecodeStep)}, cpu ${JSON.stringify(onHost.stats.lastDecodeStep)}`,
    );
  });

  it("sampling keeps the cache on the device and reads back only the last positions' logits", async () => {
    const { stats } = await generateCounted(gpu, { temperature: 0.8 });
    expect(stats.kvCacheOnDevice).toBe(true);
    // The rows' logits, plus the greedy token and log-probability every run returns.
    expect(stats.lastDecodeStep!.deviceToHostBytes).toBe(prompts.length * (gpu.config.vocabSize * 4 + 12));
  });

  it('forward and score copy back only the logits asked for', async () => {
    gpu.resetTransferStats!();
    const none = await gpu.forward(prompts, { logits: 'none' });
    expect(none.every((row) => row.logits.length === 0)).toBe(true);
    const afterNone = gpu.transferStats!().prefill.deviceToHostBytes;
    // Without logits only the greedy token and log-probability of one position come back.
    expect(afterNone).toBe(12);
    const scores = await gpu.score(prompts);
    const onHost = await cpu.score(prompts);
    scores.forEach((row, r) => {
      for (let i = 0; i < row.length; i++) expect(Math.abs(row[i]! - onHost[r]![i]!)).toBeLessThan(1e-4);
    });
    const vocab = gpu.config.vocabSize;
    expect(gpu.transferStats!().prefill.deviceToHostBytes - afterNone).toBe(
      prompts.length * (vocab * 4 + 12),
    );
  });

  it('switching between steering plans reuses one session (no weight reload) and matches the CPU', async () => {
    const created = () => (gpu as unknown as { createdSessionCount: number }).createdSessionCount;
    const before = created();
    const vector = Float32Array.from({ length: gpu.config.hiddenSize }, (_, i) => Math.sin(i + 1));
    const plans: SteeringSpec[][] = [
      [
        {
          point: { layer: 0, site: 'resid_post' },
          mode: 'add',
          vector,
          coefficient: [4, 0, -3],
          positions: 'all',
        },
      ],
      [{ point: { layer: 1, site: 'attn_out' }, mode: 'ablate', vector, coefficient: 1, positions: 'all' }],
      [
        { point: { layer: 0, site: 'resid_pre' }, mode: 'add', vector, coefficient: 2, positions: 'all' },
        {
          point: { layer: 1, site: 'mlp_out' },
          mode: 'ablate',
          vector,
          coefficient: [1, 0.5, 0],
          positions: 'all',
        },
      ],
      [],
    ];
    for (const steer of plans) {
      const onDevice = await generateCounted(gpu, { steer });
      const onHost = await generateCounted(cpu, { steer });
      expect(onDevice.tokens).toEqual(onHost.tokens);
    }
    await gpu.score(prompts, { steer: plans[0]! });
    expect(created() - before).toBe(0);
  });
});

if (!webgpu.available) {
  describe('device-resident decoding on WebGPU', () => {
    it.skip(`skipped: ${webgpu.reason}`, () => undefined);
  });
}
