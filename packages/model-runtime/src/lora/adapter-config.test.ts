import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TraitlensError } from '@traitlens/core';
import { describe, expect, it } from 'vitest';
import {
  type AdapterModuleSelection,
  adapterAlphaFor,
  adapterRankFor,
  matchPatternKey,
  parseAdapterConfig,
  selectsModule,
} from './adapter-config';

/** Written by tools/reference/peft_module_matching.py: PEFT's matching rules run with Python's `re`. */
const reference = JSON.parse(
  readFileSync(join(import.meta.dirname, '../__fixtures__/peft-module-matching.json'), 'utf8'),
) as {
  modules: string[];
  patternKeys: Array<{ keys: string[]; matches: Array<string | null> }>;
  targets: Array<{ config: Record<string, unknown>; selected: boolean[] }>;
};

function selectionOf(config: Record<string, unknown>): AdapterModuleSelection {
  const { targetModules, layers, layersPattern, excludeModules } = parseAdapterConfig(
    { r: 4, ...config },
    'a.json',
  );
  return {
    targetModules: targetModules ?? [],
    ...(layers ? { layers } : {}),
    ...(layersPattern ? { layersPattern } : {}),
    ...(excludeModules ? { excludeModules } : {}),
  };
}

describe('PEFT module matching (against Python re)', () => {
  it('matches rank_pattern/alpha_pattern keys as get_pattern_key: regex full-match on the key or a .-suffix, first key wins', () => {
    for (const { keys, matches } of reference.patternKeys) {
      expect(reference.modules.map((module) => matchPatternKey(keys, module) ?? null)).toEqual(matches);
    }
  });

  it('selects modules as check_target_module_exists (target_modules, layers_to_transform, layers_pattern, exclude_modules)', () => {
    for (const { config, selected } of reference.targets) {
      const selection = selectionOf(config);
      expect(reference.modules.map((module) => selectsModule(selection, module))).toEqual(selected);
    }
  });

  it('applies rank and alpha overrides per module, else r and lora_alpha', () => {
    const config = parseAdapterConfig(
      {
        r: 8,
        lora_alpha: 16,
        target_modules: 'all-linear',
        rank_pattern: { [String.raw`.*\.mlp\..*_proj`]: 4, q_proj: 2 },
        alpha_pattern: { 'layers.1.self_attn.q_proj': 3 },
      },
      'a.json',
    );
    expect(adapterRankFor(config, 'model.layers.0.mlp.up_proj')).toBe(4);
    expect(adapterRankFor(config, 'model.layers.0.self_attn.q_proj')).toBe(2);
    expect(adapterRankFor(config, 'model.layers.0.self_attn.k_proj')).toBe(8);
    expect(adapterAlphaFor(config, 'model.layers.1.self_attn.q_proj')).toBe(3);
    expect(adapterAlphaFor(config, 'model.layers.11.self_attn.q_proj')).toBe(16); // layers.11 is not layers.1
    expect(adapterAlphaFor(config, 'model.layers.2.self_attn.q_proj')).toBe(16);
  });
});

describe('parseAdapterConfig refusals', () => {
  const base = { peft_type: 'LORA', r: 4, target_modules: ['q_proj'] };
  const refused: Array<[Record<string, unknown>, string]> = [
    [{ peft_type: 'LOHA' }, 'peft_type'],
    [{ peft_type: 'IA3' }, 'peft_type'],
    [{ use_dora: true }, 'use_dora'],
    [{ lora_bias: true }, 'lora_bias'],
    [{ modules_to_save: ['lm_head'] }, 'modules_to_save'],
    [{ fan_in_fan_out: true }, 'fan_in_fan_out'],
    [{ bias: 'all' }, 'bias'],
    [{ layer_replication: [[0, 2]] }, 'layer_replication'],
    [{ trainable_token_indices: [5] }, 'trainable_token_indices'],
    [{ target_parameters: ['experts.weight'] }, 'target_parameters'],
    [{ target_modules: 'q_proj', layers_to_transform: [1] }, 'layers_to_transform'],
    [{ rank_pattern: { q_proj: 'eight' } }, 'rank_pattern'],
    [{ r: 0 }, 'r'],
    [{ target_modules: [] }, 'target_modules'],
    [{ target_modules: 7 }, 'target_modules'],
  ];
  for (const [fields, field] of refused) {
    it(`refuses ${JSON.stringify(fields)} with INVALID_ADAPTER naming ${field}`, () => {
      const error = (() => {
        try {
          parseAdapterConfig({ ...base, ...fields }, 'x/adapter_config.json');
        } catch (e) {
          return e;
        }
      })();
      expect(TraitlensError.hasCode(error, 'INVALID_ADAPTER')).toBe(true);
      expect((error as TraitlensError).details).toMatchObject({ file: 'x/adapter_config.json', field });
      expect((error as Error).message).toContain('x/adapter_config.json');
      expect((error as Error).message).toContain(field);
    });
  }

  it('accepts the unset forms PEFT writes by default, and training-only fields', () => {
    expect(
      parseAdapterConfig(
        {
          ...base,
          use_dora: false,
          lora_bias: false,
          modules_to_save: null,
          bias: 'none',
          fan_in_fan_out: false,
          layer_replication: null,
          lora_dropout: 0.05,
          init_lora_weights: true,
          task_type: 'CAUSAL_LM',
          inference_mode: true,
        },
        'a.json',
      ),
    ).toMatchObject({ rank: 4, alpha: 4, useRslora: false, targetModules: ['q_proj'] });
  });
});
