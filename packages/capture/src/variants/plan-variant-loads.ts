import { resolve } from 'node:path';
import { TraitlensError } from '@traitlens/core';
import { isSafeFileName } from '../prompt-set/parse-prompt-set';
import type { ModelVariant } from './model-variant';

/** One model to load and the variants it serves. */
export interface VariantLoadPlan {
  model: string;
  /** Loaded as a switchable adapter, so every variant of the plan picks its scale per row. */
  lora?: string;
  variants: Array<{ name: string; loraScale?: number }>;
}

function sourceKey(source: string): string {
  return source.startsWith('hf:') ? source : resolve(source);
}

function assertVariantNames(variants: readonly ModelVariant[]): void {
  const seen = new Set<string>();
  for (const variant of variants) {
    if (!isSafeFileName(variant.name))
      throw new TraitlensError(
        'INVALID_ARGUMENT',
        `Variant name "${variant.name}" cannot be used as a folder name; use letters, digits, _, - and . (not first).`,
        { details: { variant: variant.name } },
      );
    if (seen.has(variant.name))
      throw new TraitlensError(
        'INVALID_ARGUMENT',
        `Two variants are named "${variant.name}"; each variant writes to inference/<name>/, so names must differ.`,
        { details: { variant: variant.name } },
      );
    seen.add(variant.name);
    const scale = variant.lora?.scale;
    if (scale !== undefined && !Number.isFinite(scale))
      throw new TraitlensError(
        'INVALID_ARGUMENT',
        `Variant "${variant.name}": LoRA scale must be a finite number (got ${scale}).`,
        { details: { variant: variant.name } },
      );
  }
}

/**
 * Groups variants into model loads. Variants of the same base model share one load: those with the same
 * adapter run it at their own scale, and adapter-free variants join a load that has an adapter at scale 0
 * (the clean model), so a LoRA organism and its clean base cost one model in memory. Variants with
 * different adapters on one base, or different bases, get separate loads.
 */
export function planVariantLoads(variants: readonly ModelVariant[]): VariantLoadPlan[] {
  assertVariantNames(variants);
  const plans: Array<VariantLoadPlan & { modelKey: string; loraKey?: string }> = [];
  for (const variant of variants) {
    if (!variant.lora) continue;
    const modelKey = sourceKey(variant.model);
    const loraKey = sourceKey(variant.lora.source);
    let plan = plans.find((candidate) => candidate.modelKey === modelKey && candidate.loraKey === loraKey);
    if (!plan) {
      plan = { model: variant.model, lora: variant.lora.source, variants: [], modelKey, loraKey };
      plans.push(plan);
    }
    plan.variants.push({ name: variant.name, loraScale: variant.lora.scale ?? 1 });
  }
  for (const variant of variants) {
    if (variant.lora) continue;
    const modelKey = sourceKey(variant.model);
    let plan = plans.find((candidate) => candidate.modelKey === modelKey);
    if (!plan) {
      plan = { model: variant.model, variants: [], modelKey };
      plans.push(plan);
    }
    plan.variants.push(
      plan.lora === undefined ? { name: variant.name } : { name: variant.name, loraScale: 0 },
    );
  }
  return plans.map(({ modelKey: _modelKey, loraKey: _loraKey, ...plan }) => plan);
}
