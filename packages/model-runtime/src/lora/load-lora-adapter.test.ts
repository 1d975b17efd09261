import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type SafetensorsTensorInput, TraitlensError, writeSafetensors } from '@traitlens/core';
import { describe, expect, it } from 'vitest';
import { loadLoraAdapter } from './load-lora-adapter';

const hidden = 4;

function pair(module: string, rank: number): Record<string, SafetensorsTensorInput> {
  return {
    [`base_model.model.${module}.lora_A.weight`]: {
      dtype: 'F32',
      shape: [rank, hidden],
      data: new Float32Array(rank * hidden).fill(0.5),
    },
    [`base_model.model.${module}.lora_B.weight`]: {
      dtype: 'F32',
      shape: [hidden, rank],
      data: new Float32Array(hidden * rank).fill(0.25),
    },
  };
}

async function adapterFolder(
  config: Record<string, unknown>,
  tensors: Record<string, SafetensorsTensorInput>,
): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), 'traitlens-lora-'));
  await writeFile(join(directory, 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', ...config }));
  await writeSafetensors(join(directory, 'adapter_model.safetensors'), tensors);
  return directory;
}

async function loadError(directory: string): Promise<TraitlensError> {
  const error = await loadLoraAdapter(directory).catch((e: unknown) => e);
  expect(TraitlensError.hasCode(error, 'INVALID_ADAPTER')).toBe(true);
  return error as TraitlensError;
}

describe('loadLoraAdapter', () => {
  it('scales each module by its own alpha/rank, with rank_pattern/alpha_pattern matched as PEFT', async () => {
    const directory = await adapterFolder(
      {
        r: 4,
        lora_alpha: 8,
        target_modules: ['q_proj', 'down_proj'],
        rank_pattern: { [String.raw`.*\.mlp\..*`]: 2 },
        alpha_pattern: { 'layers.1.self_attn.q_proj': 2 },
      },
      {
        ...pair('model.layers.0.self_attn.q_proj', 4),
        ...pair('model.layers.1.self_attn.q_proj', 4),
        ...pair('model.layers.0.mlp.down_proj', 2),
      },
    );
    const adapter = await loadLoraAdapter(directory);
    const scaling = (module: string) => adapter.targets.get(`${module}.weight`)?.scaling;
    expect(scaling('model.layers.0.self_attn.q_proj')).toBe(8 / 4);
    expect(scaling('model.layers.1.self_attn.q_proj')).toBe(2 / 4);
    expect(scaling('model.layers.0.mlp.down_proj')).toBe(8 / 2);
  });

  it('uses alpha/sqrt(r) with use_rslora', async () => {
    const directory = await adapterFolder(
      { r: 4, lora_alpha: 8, use_rslora: true, target_modules: ['q_proj'] },
      pair('model.layers.0.self_attn.q_proj', 4),
    );
    expect(
      (await loadLoraAdapter(directory)).targets.get('model.layers.0.self_attn.q_proj.weight')?.scaling,
    ).toBe(8 / 2);
  });

  it('refuses weights for a module that target_modules/layers_to_transform do not select', async () => {
    const directory = await adapterFolder(
      { r: 4, target_modules: ['q_proj'], layers_to_transform: [0] },
      { ...pair('model.layers.0.self_attn.q_proj', 4), ...pair('model.layers.1.self_attn.q_proj', 4) },
    );
    expect((await loadError(directory)).message).toMatch(
      /model\.layers\.1\.self_attn\.q_proj.*do not select/,
    );
  });

  it('refuses a rank that disagrees with rank_pattern', async () => {
    const directory = await adapterFolder(
      { r: 4, target_modules: ['q_proj'], rank_pattern: { q_proj: 8 } },
      pair('model.layers.0.self_attn.q_proj', 4),
    );
    expect((await loadError(directory)).message).toMatch(/rank 4 but adapter_config\.json says 8/);
  });

  it('refuses embedding LoRA, lora biases and modules_to_save tensors instead of dropping them', async () => {
    const base = pair('model.layers.0.self_attn.q_proj', 4);
    const extra: Array<[string, RegExp]> = [
      ['base_model.model.model.embed_tokens.lora_embedding_A', /embedding LoRA/],
      ['base_model.model.model.layers.0.self_attn.q_proj.lora_B.bias', /lora bias/],
      ['base_model.model.lm_head.weight', /modules_to_save/],
      ['base_model.model.model.layers.0.self_attn.q_proj.lora_magnitude_vector', /DoRA/],
    ];
    for (const [name, reason] of extra) {
      const directory = await adapterFolder(
        { r: 4, target_modules: ['q_proj'] },
        { ...base, [name]: { dtype: 'F32', shape: [hidden], data: new Float32Array(hidden) } },
      );
      const message = (await loadError(directory)).message;
      expect(message).toContain(name);
      expect(message).toMatch(reason);
    }
  });

  it('refuses a non-LoRA peft_type and DoRA from the config', async () => {
    const tensors = pair('model.layers.0.self_attn.q_proj', 4);
    for (const [fields, field] of [
      [{ peft_type: 'LOHA' }, 'peft_type'],
      [{ use_dora: true }, 'use_dora'],
      [{ lora_bias: true }, 'lora_bias'],
      [{ modules_to_save: ['lm_head'] }, 'modules_to_save'],
    ] as const) {
      const directory = await adapterFolder({ r: 4, target_modules: ['q_proj'], ...fields }, tensors);
      expect((await loadError(directory)).details).toMatchObject({ field });
    }
  });
});
