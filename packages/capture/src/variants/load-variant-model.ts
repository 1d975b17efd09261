import {
  computeModelIdentity,
  type LanguageModel,
  type LoadModelOptions,
  loadModel,
} from '@traitlens/model-runtime';
import type { LoadedVariant, VariantIdentity } from './model-variant';
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
  const { lora } = plan;
  const model = await loadModel(
    plan.model,
    lora === undefined ? options : { ...options, lora: { source: lora, mode: 'switchable' } },
  );
  // By content, so shards that load the same weights from different paths can share one folder.
  const cache = { cacheDirectory: options.cacheDirectory };
  const identity: VariantIdentity = {
    model: await computeModelIdentity(model.id, cache),
    lora: lora === undefined ? undefined : await computeModelIdentity(lora, cache),
  };
  const variants = new Map<string, LoadedVariant>();
  for (const variant of plan.variants)
    variants.set(variant.name, { name: variant.name, model, loraScale: variant.loraScale, lora, identity });
  return { model, variants };
}
