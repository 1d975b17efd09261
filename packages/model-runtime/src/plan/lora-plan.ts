import { TraitlensError } from '@traitlens/core';
import type { MemoryPlanModelShape } from './plan-memory';

/** What the memory plan needs to know about a LoRA adapter (the PEFT adapter_config.json fields that size it). */
export interface LoraPlan {
  rank: number;
  /** PEFT `target_modules`: module names (`q_proj`, ...), `all-linear`, or one regular expression matched against full module names. */
  targetModules: readonly string[] | string;
  /** PEFT `layers_to_transform`: only these layers get branches (default: all). */
  layers?: readonly number[];
  /** PEFT `rank_pattern`: rank overrides keyed by module name or a suffix of the full name. */
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
  if (typeof targetModules === 'string') {
    if (targetModules === 'all-linear') return true;
    return new RegExp(`^(?:${targetModules})$`).test(path);
  }
  return targetModules.some((target) => path === target || path.endsWith(`.${target}`));
}

/** The rank of one module: a rank_pattern entry matching its path (or a suffix of it), else the adapter rank. */
export function loraRankFor(plan: LoraPlan, path: string): number {
  for (const [key, rank] of Object.entries(plan.rankPattern ?? {})) {
    if (path === key || path.endsWith(`.${key}`)) return rank;
  }
  return plan.rank;
}

/**
 * Reads the sizing fields of a PEFT adapter_config.json (`r`, `target_modules`, `layers_to_transform`,
 * `rank_pattern`). It does not check the adapter can be applied; loading it does that.
 */
export function parseAdapterConfigForPlan(json: unknown, source: string): LoraPlan {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new TraitlensError('INVALID_ADAPTER', `${source}: adapter_config.json is not a JSON object.`, {
      details: { file: source },
    });
  }
  const config = json as Record<string, unknown>;
  const rank = config.r;
  if (typeof rank !== 'number' || !Number.isInteger(rank) || rank <= 0) {
    throw new TraitlensError(
      'INVALID_ADAPTER',
      `${source}: adapter_config.json "r" must be a positive integer (got ${JSON.stringify(rank)}).`,
      { details: { file: source, field: 'r' } },
    );
  }
  const targets = config.target_modules;
  const targetModules =
    typeof targets === 'string'
      ? targets
      : Array.isArray(targets) && targets.every((target) => typeof target === 'string')
        ? (targets as string[])
        : undefined;
  if (targetModules === undefined || targetModules.length === 0) {
    throw new TraitlensError(
      'INVALID_ADAPTER',
      `${source}: adapter_config.json "target_modules" must be a list of module names or a pattern (got ${JSON.stringify(targets)}).`,
      {
        details: { file: source, field: 'target_modules' },
      },
    );
  }
  const layersField = config.layers_to_transform;
  const layers =
    typeof layersField === 'number'
      ? [layersField]
      : Array.isArray(layersField)
        ? layersField.filter((layer): layer is number => Number.isInteger(layer))
        : undefined;
  const patternField = config.rank_pattern;
  const rankPattern: Record<string, number> = {};
  if (typeof patternField === 'object' && patternField !== null) {
    for (const [key, value] of Object.entries(patternField))
      if (typeof value === 'number') rankPattern[key] = value;
  }
  return {
    rank,
    targetModules,
    ...(layers ? { layers } : {}),
    ...(Object.keys(rankPattern).length > 0 ? { rankPattern } : {}),
  };
}
