import { describe, expect, it } from 'vitest';
import { isLoraTarget, parseAdapterConfigForPlan } from './lora-plan';

describe('parseAdapterConfigForPlan', () => {
  it('reads r, target_modules, layers_to_transform and rank_pattern', () => {
    expect(
      parseAdapterConfigForPlan(
        {
          r: 16,
          target_modules: ['q_proj', 'v_proj'],
          layers_to_transform: [0, 1],
          rank_pattern: { q_proj: 32 },
        },
        'a.json',
      ),
    ).toEqual({
      rank: 16,
      targetModules: ['q_proj', 'v_proj'],
      layers: [0, 1],
      rankPattern: { q_proj: 32 },
    });
    expect(
      parseAdapterConfigForPlan({ r: 8, target_modules: 'all-linear', layers_to_transform: 3 }, 'a.json'),
    ).toEqual({ rank: 8, targetModules: 'all-linear', layers: [3] });
  });

  it('names the file and field when the config cannot size an adapter', () => {
    expect(() => parseAdapterConfigForPlan({ target_modules: ['q_proj'] }, 'x/adapter_config.json')).toThrow(
      /x\/adapter_config\.json.*"r"/,
    );
    expect(() => parseAdapterConfigForPlan({ r: 8 }, 'x/adapter_config.json')).toThrow(/target_modules/);
    expect(() => parseAdapterConfigForPlan([], 'x/adapter_config.json')).toThrow(/not a JSON object/);
  });
});

describe('isLoraTarget', () => {
  it('matches names by path suffix and strings as full-match regular expressions, like PEFT', () => {
    expect(isLoraTarget(['q_proj'], 'model.layers.0.self_attn.q_proj')).toBe(true);
    expect(isLoraTarget(['self_attn.q_proj'], 'model.layers.0.self_attn.q_proj')).toBe(true);
    expect(isLoraTarget(['proj'], 'model.layers.0.self_attn.q_proj')).toBe(false);
    expect(isLoraTarget(String.raw`.*\.mlp\..*`, 'model.layers.0.mlp.up_proj')).toBe(true);
    expect(isLoraTarget('q_proj', 'model.layers.0.self_attn.q_proj')).toBe(false);
  });
});
