import {
  computeModelIdentity,
  type LanguageModel,
  type LoadModelOptions,
  loadModel,
} from '@traitlens/model-runtime';
import type { LoadedVariant } from './model-variant';
import type { VariantLoadPlan } from './plan-variant-loads';

/** One loaded model and the variants it serves. */
export interface LoadedVariantModel {
  model: LanguageModel;
  variants: Map<string, LoadedVariant>;
}

/**
 * Loads the model of one plan (with its adapter in switchable mode, so each variant picks its LoRA scale
 * per row) and returns the variants it serves. Dispose `model` once when done.
 */
export async function loadVariantModel(
  plan: VariantLoadPlan,
  options: Omit<LoadModelOptions, 'lora'> = {},
): Promise<LoadedVariantModel> {
  const model = await loadModel(plan.model, {
    ...options,
    ...(plan.lora === undefined ? {} : { lora: { source: plan.lora, mode: 'switchable' as const } }),
  });
  // By content, so shards that load the same weights from different paths can share one folder.
  const identity = {
    model: await computeModelIdentity(model.id, cacheOptions(options)),
    ...(plan.lora === undefined
      ? {}
      : { lora: await computeModelIdentity(plan.lora, cacheOptions(options)) }),
  };
  const variants = new Map<string, LoadedVariant>();
  for (const variant of plan.variants) {
    variants.set(variant.name, {
      name: variant.name,
      model,
      ...(variant.loraScale === undefined ? {} : { loraScale: variant.loraScale }),
      ...(plan.lora === undefined ? {} : { lora: plan.lora }),
      identity,
    });
  }
  return { model, variants };
}

function cacheOptions(options: Omit<LoadModelOptions, 'lora'>): { cacheDirectory?: string } {
  return options.cacheDirectory === undefined ? {} : { cacheDirectory: options.cacheDirectory };
}
