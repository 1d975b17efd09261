/**
 * loadModel with `hf:` sources end to end: a fake Hub on 127.0.0.1 serves a tiny model and a LoRA
 * adapter; the model is downloaded into an HF cache, run, then loaded again offline from the cache.
 */
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TraitlensError, writeSafetensors } from '@traitlens/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeHubServer } from '../src/hub/__fixtures__/fake-hub-server';
import { loadModel } from '../src/index';
import { createTinyModel, type TinyModel } from '../src/testing/index';
import { testCacheDirectory } from './shared-models';

describe('loadModel from the Hub (loopback server)', () => {
  let hub: FakeHubServer;
  let tiny: TinyModel;
  let hubCache: string;
  let commit: string;

  beforeAll(async () => {
    hub = await FakeHubServer.start();
    tiny = await createTinyModel({ architecture: 'Qwen2ForCausalLM', seed: 12, dtype: 'BF16' });
    const files: Record<string, Uint8Array> = {};
    for (const name of await readdir(tiny.directory))
      files[name] = await readFile(join(tiny.directory, name));
    commit = hub.addRepo('org/tiny-qwen', { files });
    const adapterDirectory = await mkdtemp(join(tmpdir(), 'traitlens-hub-lora-'));
    const rank = 2;
    const d = 64;
    await writeSafetensors(join(adapterDirectory, 'adapter_model.safetensors'), {
      'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight': {
        dtype: 'F32',
        shape: [rank, d],
        data: Float32Array.from({ length: rank * d }, (_, i) => Math.sin(i) * 0.2),
      },
      'base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight': {
        dtype: 'F32',
        shape: [d, rank],
        data: Float32Array.from({ length: d * rank }, (_, i) => Math.cos(i) * 0.2),
      },
    });
    hub.addRepo('org/tiny-lora', {
      files: {
        'adapter_config.json': JSON.stringify({
          r: rank,
          lora_alpha: 4,
          target_modules: ['q_proj'],
          bias: 'none',
        }),
        'adapter_model.safetensors': await readFile(join(adapterDirectory, 'adapter_model.safetensors')),
      },
    });
    hubCache = await mkdtemp(join(tmpdir(), 'traitlens-hf-cache-'));
  });
  afterAll(async () => {
    await hub.close();
    await tiny.remove();
  });

  it('downloads, pins the revision, runs with a hub LoRA, and reloads offline without a request', async () => {
    const hubOptions = { endpoint: hub.endpoint, cacheDir: hubCache, retries: 0 };
    const local = await loadModel(tiny.directory, { cacheDirectory: testCacheDirectory, threads: 1 });
    const [expected] = await local.forward('Hello there');
    await local.dispose();

    const model = await loadModel('hf:org/tiny-qwen', {
      cacheDirectory: testCacheDirectory,
      threads: 1,
      hub: hubOptions,
      lora: { source: 'hf:org/tiny-lora' },
    });
    expect(model.id).toBe(`hf:org/tiny-qwen@${commit}`);
    const [clean, adapted] = await model.forward(['Hello there', 'Hello there'], { loraScale: [0, 1] });
    let maxAbs = 0;
    for (let i = 0; i < expected!.logits.length; i++)
      maxAbs = Math.max(maxAbs, Math.abs(expected!.logits[i]! - clean!.logits[i]!));
    expect(maxAbs).toBeLessThan(1e-5);
    expect(adapted!.logits).not.toEqual(clean!.logits);
    await model.dispose();

    const before = hub.requests.length;
    const offline = await loadModel('hf:org/tiny-qwen', {
      cacheDirectory: testCacheDirectory,
      threads: 1,
      hub: { ...hubOptions, offline: true },
    });
    expect(offline.id).toBe(`hf:org/tiny-qwen@${commit}`);
    expect(hub.requests.length).toBe(before);
    await offline.dispose();
  });

  it('fails clearly for a missing revision and for an empty cache offline', async () => {
    const missing = await loadModel('hf:org/tiny-qwen@no-such-branch', {
      hub: { endpoint: hub.endpoint, cacheDir: hubCache, retries: 0 },
    }).catch((e: unknown) => e);
    expect(TraitlensError.hasCode(missing, 'REVISION_NOT_FOUND')).toBe(true);
    const emptyCache = await mkdtemp(join(tmpdir(), 'traitlens-hf-empty-'));
    const offline = await loadModel('hf:org/tiny-qwen', {
      hub: { endpoint: hub.endpoint, cacheDir: emptyCache, offline: true },
    }).catch((e: unknown) => e);
    expect(TraitlensError.hasCode(offline, 'HUB_OFFLINE')).toBe(true);
    expect(await readdir(emptyCache)).toEqual([]);
  });
});
