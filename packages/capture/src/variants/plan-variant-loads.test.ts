import { describe, expect, it } from 'vitest';
import { planVariantLoads } from './plan-variant-loads';

describe('planVariantLoads', () => {
  it('serves a LoRA variant and the clean base with one load (scale 1 and 0)', () => {
    expect(
      planVariantLoads([
        { name: 'lora', model: 'hf:meta-llama/Llama-3.3-70B-Instruct', lora: { source: 'hf:org/adapter' } },
        { name: 'clean', model: 'hf:meta-llama/Llama-3.3-70B-Instruct' },
      ]),
    ).toEqual([
      {
        model: 'hf:meta-llama/Llama-3.3-70B-Instruct',
        lora: 'hf:org/adapter',
        variants: [
          { name: 'lora', loraScale: 1 },
          { name: 'clean', loraScale: 0 },
        ],
      },
    ]);
  });

  it('treats local paths that resolve to the same folder as one model', () => {
    const plans = planVariantLoads([
      { name: 'clean', model: 'models/base/' },
      { name: 'half', model: './models/base', lora: { source: 'adapters/a', scale: 0.5 } },
    ]);
    expect(plans).toHaveLength(1);
    expect(plans[0]!.variants).toEqual([
      { name: 'half', loraScale: 0.5 },
      { name: 'clean', loraScale: 0 },
    ]);
  });

  it('loads different base models and different adapters separately', () => {
    const plans = planVariantLoads([
      { name: 'a', model: 'hf:org/one', lora: { source: 'hf:org/adapter-a' } },
      { name: 'b', model: 'hf:org/one', lora: { source: 'hf:org/adapter-b' } },
      { name: 'c', model: 'hf:org/two' },
    ]);
    expect(
      plans.map((plan) => [plan.model, plan.lora, plan.variants.map((variant) => variant.name)]),
    ).toEqual([
      ['hf:org/one', 'hf:org/adapter-a', ['a']],
      ['hf:org/one', 'hf:org/adapter-b', ['b']],
      ['hf:org/two', undefined, ['c']],
    ]);
    expect(plans[2]!.variants[0]).toEqual({ name: 'c' });
  });

  it('rejects duplicate and unsafe variant names and non-finite scales', () => {
    expect(() =>
      planVariantLoads([
        { name: 'x', model: 'a' },
        { name: 'x', model: 'b' },
      ]),
    ).toThrow(/Two variants are named "x"/);
    expect(() => planVariantLoads([{ name: '../x', model: 'a' }])).toThrow(/cannot be used as a folder name/);
    expect(() =>
      planVariantLoads([{ name: 'x', model: 'a', lora: { source: 'l', scale: Number.NaN } }]),
    ).toThrow(/LoRA scale must be a finite number/);
  });
});
