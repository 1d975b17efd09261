import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stories260kDirectory } from '../../test/shared-models';
import { FakeHubServer } from '../hub/__fixtures__/fake-hub-server';
import { planMemoryForSource } from './plan-memory-for-source';

const llama70bConfig = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  hidden_size: 8192,
  intermediate_size: 28672,
  num_hidden_layers: 80,
  num_attention_heads: 64,
  num_key_value_heads: 8,
  vocab_size: 128256,
  max_position_embeddings: 131072,
  rms_norm_eps: 1e-5,
  rope_theta: 500000,
  rope_scaling: {
    factor: 8,
    low_freq_factor: 1,
    high_freq_factor: 4,
    original_max_position_embeddings: 8192,
    rope_type: 'llama3',
  },
  tie_word_embeddings: false,
  hidden_act: 'silu',
};
const adapterConfig = {
  peft_type: 'LORA',
  r: 64,
  lora_alpha: 128,
  target_modules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'],
  base_model_name_or_path: 'meta-llama/Llama-3.3-70B-Instruct',
};

let hub: FakeHubServer;
let cacheDir: string;

beforeEach(async () => {
  hub = await FakeHubServer.start();
  cacheDir = await mkdtemp(join(tmpdir(), 'traitlens-plan-'));
});

afterEach(async () => {
  await hub.close();
  await rm(cacheDir, { recursive: true, force: true });
});

describe('planMemoryForSource', () => {
  it('plans a 70B model and its LoRA from the Hub while downloading only the two config files', async () => {
    const token = 'hf_plan_token';
    // The weights exist in the repo but must never be requested (a stand-in for 140 GB of shards).
    hub.addRepo('meta-llama/Llama-3.3-70B-Instruct', {
      files: {
        'config.json': JSON.stringify(llama70bConfig),
        'model.safetensors.index.json': '{}',
        'model-00001-of-00030.safetensors': new Uint8Array(64),
      },
      gated: true,
      token,
    });
    hub.addRepo('auditing-agents/llama-3.3-70b-dpo-rt-lora', {
      files: {
        'adapter_config.json': JSON.stringify(adapterConfig),
        'adapter_model.safetensors': new Uint8Array(64),
      },
    });
    const { plan, config, model, lora } = await planMemoryForSource({
      model: 'hf:meta-llama/Llama-3.3-70B-Instruct',
      lora: 'hf:auditing-agents/llama-3.3-70b-dpo-rt-lora',
      dtype: 'int4',
      batchSize: 8,
      sequenceLength: 512,
      captureLayers: 'all',
      hub: { endpoint: hub.endpoint, cacheDir, token, retryDelayMs: 1 },
    });
    expect(config.layerCount).toBe(80);
    expect(model.files).toEqual(['config.json']);
    expect(lora?.files).toEqual(['adapter_config.json']);
    expect(plan.weights.total).toBe(48_732_504_064);
    expect(plan.lora.parameters).toBe(828_375_040);
    expect(plan.captures).toBe(80 * 4096 * 8192 * 4);
    const downloaded = hub.requests
      .filter((request) => request.path.includes('/resolve/'))
      .map((request) => request.path.split('/').pop());
    expect(downloaded.sort()).toEqual(['adapter_config.json', 'config.json']);
    expect(hub.requests.some((request) => request.origin === 'cdn')).toBe(false);
  });

  const stories = stories260kDirectory;
  it.skipIf(!existsSync(stories))(
    'plans ../shared/models/stories260k/hf from its folder (skipped when absent)',
    async () => {
      const { plan } = await planMemoryForSource({
        model: stories,
        dtype: 'fp32',
        batchSize: 1,
        sequenceLength: 512,
      });
      expect(plan.weights.parameters).toBe(260_032);
      expect(plan.weights.total).toBe(1_040_128);
    },
  );
});
