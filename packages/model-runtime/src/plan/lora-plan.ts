import { TraitlensError } from '@traitlens/core';
import {
  type AdapterModuleSelection,
  adapterRankFor,
  parseAdapterConfig,
  selectsModule,
} from '../lora/adapter-config';
import type { MemoryPlanModelShape } from './plan-memory';

/** What the memory plan needs to know about a LoRA adapter (the PEFT adapter_config.json fields that size it). */
export interface LoraPlan extends AdapterModuleSelection {
  rank: number;
  /** PEFT `rank_pattern`: rank overrides, keys matched as PEFT does (a regular expression full-matching the module name or a `.`-suffix of it). */
  rankPattern?: Readonly<Record<string, number>>;
  /** `switchable` (default) keeps the low-rank branches in the graph; `merged` folds them into the weights (no extra memory). */
  mode?: 'switchable' | 'merged';
}

/** The linear layers of a Llama-family decoder layer that LoRA can target, with their HF module paths. */
export const loraModuleNames = [
  'q_proj',
  'k_proj',
  'v_proj',
  'o_proj',
  'gate_proj',
  'up_proj',
  'down_proj',
] as const;
export type LoraModuleName = (typeof loraModuleNames)[number];

/** [in, out] features of each targetable module. */
export function loraModuleShape(
  config: MemoryPlanModelShape,
  module: LoraModuleName,
): { inFeatures: number; outFeatures: number } {
  const { hiddenSize: d, intermediateSize: i, headCount: h, kvHeadCount: kv, headDim: hd } = config;
  switch (module) {
    case 'q_proj':
      return { inFeatures: d, outFeatures: h * hd };
    case 'k_proj':
    case 'v_proj':
      return { inFeatures: d, outFeatures: kv * hd };
    case 'o_proj':
      return { inFeatures: h * hd, outFeatures: d };
    case 'gate_proj':
    case 'up_proj':
      return { inFeatures: d, outFeatures: i };
    case 'down_proj':
      return { inFeatures: i, outFeatures: d };
  }
}

/** The full PEFT module path of a module in a layer, e.g. `model.layers.3.self_attn.q_proj`. */
export function loraModulePath(layer: number, module: LoraModuleName): string {
  const block =
    module === 'gate_proj' || module === 'up_proj' || module === 'down_proj' ? 'mlp' : 'self_attn';
  return `model.layers.${layer}.${block}.${module}`;
}

/** Does PEFT's target_modules select this module? Names match the last path components; a string is a full-match regex. */
export function isLoraTarget(targetModules: readonly string[] | string, path: string): boolean {
  return selectsModule({ targetModules }, path);
}

/** Does the plan's adapter adapt this module (target_modules, layers_to_transform, layers_pattern, exclude_modules, as PEFT)? */
export function planSelectsModule(plan: LoraPlan, path: string): boolean {
  return selectsModule(plan, path);
}

/** The rank of one module: a rank_pattern entry matching it as PEFT does, else the adapter rank. */
export function loraRankFor(plan: LoraPlan, path: string): number {
  return adapterRankFor({ rank: plan.rank, rankPattern: plan.rankPattern ?? {} }, path);
}

/**
 * Reads the sizing fields of a PEFT adapter_config.json (`r`, `target_modules`, `layers_to_transform`,
 * `layers_pattern`, `exclude_modules`, `rank_pattern`) with the same parser the loader uses, so a config
 * the loader refuses is refused here too.
 */
export function parseAdapterConfigForPlan(json: unknown, source: string): LoraPlan {
  const config = parseAdapterConfig(json, source);
  const { rank, targetModules, layers, layersPattern, excludeModules, rankPattern } = config;
  if (targetModules === undefined) {
    throw new TraitlensError(
      'INVALID_ADAPTER',
      `${source}: adapter_config.json "target_modules" must be a list of module names or a pattern (got undefined); the plan needs it to size the adapter.`,
      { details: { file: source, field: 'target_modules' } },
    );
  }
  return {
    rank,
    targetModules,
    ...(layers ? { layers } : {}),
    ...(layersPattern ? { layersPattern } : {}),
    ...(excludeModules ? { excludeModules } : {}),
    ...(Object.keys(rankPattern).length > 0 ? { rankPattern } : {}),
  };
}
