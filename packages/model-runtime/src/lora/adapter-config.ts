import { TraitlensError } from '@traitlens/core';

/**
 * Which modules of the base model a PEFT LoRA adapter adapts, as PEFT decides it (`target_modules`,
 * `layers_to_transform`, `layers_pattern`, `exclude_modules`). Module keys are the names inside the
 * base model, e.g. `model.layers.3.self_attn.q_proj`.
 */
export interface AdapterModuleSelection {
  /** PEFT `target_modules`: module names matched as the key or a `.`-suffix of it, `all-linear`, or one regular expression full-matched against the key. */
  targetModules: readonly string[] | string;
  /** PEFT `layers_to_transform`: only these layers get branches (default: all). */
  layers?: readonly number[];
  /** PEFT `layers_pattern`: the module list names before the layer index (default: any, e.g. `layers`). */
  layersPattern?: readonly string[];
  /** PEFT `exclude_modules`: names (key or suffix) or one full-match regular expression never adapted. */
  excludeModules?: readonly string[] | string;
}

/** The fields of a PEFT adapter_config.json that traitlens honours; every other field that changes the math is refused. */
export interface AdapterConfig extends Omit<AdapterModuleSelection, 'targetModules'> {
  /** Absent when the file names none (PEFT always writes it; then the weights file says which modules are adapted). */
  targetModules?: readonly string[] | string | undefined;
  rank: number;
  alpha: number;
  /** scaling alpha/sqrt(r) instead of alpha/r. */
  useRslora: boolean;
  /** PEFT `rank_pattern`: per-module rank overrides, keys matched as PEFT's get_pattern_key does. */
  rankPattern: Readonly<Record<string, number>>;
  /** PEFT `alpha_pattern`: per-module alpha overrides, matched like `rankPattern`. */
  alphaPattern: Readonly<Record<string, number>>;
  baseModel: string | undefined;
}

function configError(source: string, field: string, message: string): TraitlensError {
  return new TraitlensError('INVALID_ADAPTER', `${source}: adapter_config.json ${message}`, {
    details: { file: source, field },
  });
}

/** Whether a JSON value is "not set" in PEFT's sense (absent, null, false, an empty list or object). */
function isUnset(value: unknown): boolean {
  if (value === undefined || value === null || value === false) return true;
  if (Array.isArray(value)) return value.length === 0;
  if (typeof value === 'object') return Object.keys(value).length === 0;
  return false;
}

/**
 * PEFT fields that change what the adapter computes but traitlens cannot apply: each is refused when set,
 * so an adapter never loads as if it were a plain LoRA.
 */
const refusedFields: ReadonlyArray<{ field: string; why: string }> = [
  { field: 'use_dora', why: 'DoRA adapters (use_dora=true) rescale the weight by a learned magnitude' },
  { field: 'lora_bias', why: 'lora_bias=true adds a trained bias to lora_B' },
  {
    field: 'modules_to_save',
    why: 'modules_to_save replaces whole modules (e.g. lm_head, embed_tokens) with trained copies',
  },
  {
    field: 'fan_in_fan_out',
    why: 'fan_in_fan_out=true adapters (GPT-2 Conv1D layout) store transposed weights',
  },
  { field: 'layer_replication', why: 'layer_replication duplicates decoder layers' },
  { field: 'trainable_token_indices', why: 'trainable_token_indices retrains embedding rows' },
  { field: 'target_parameters', why: 'target_parameters adapts raw parameters, not linear modules' },
  {
    field: 'alora_invocation_tokens',
    why: 'activated LoRA (alora_invocation_tokens) switches on mid-sequence',
  },
  { field: 'use_qalora', why: 'QA-LoRA (use_qalora=true) pools the input before lora_A' },
  { field: 'arrow_config', why: 'Arrow routing (arrow_config) mixes several adapters per token' },
];

function readStringList(
  value: unknown,
  source: string,
  field: string,
): readonly string[] | string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return value as string[];
  throw configError(
    source,
    field,
    `"${field}" must be a list of module names or a pattern (got ${JSON.stringify(value)}).`,
  );
}

function readNumberRecord(value: unknown, source: string, field: string): Record<string, number> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value))
    throw configError(
      source,
      field,
      `"${field}" must be an object of module pattern -> number (got ${JSON.stringify(value)}).`,
    );
  const record: Record<string, number> = {};
  for (const [key, entry] of Object.entries(value)) {
    if (typeof entry !== 'number' || !Number.isFinite(entry))
      throw configError(
        source,
        field,
        `"${field}" entry "${key}" must be a number (got ${JSON.stringify(entry)}).`,
      );
    record[key] = entry;
  }
  return record;
}

function readLayers(value: unknown, source: string): number[] | undefined {
  if (value === undefined || value === null) return undefined;
  const list = typeof value === 'number' ? [value] : value;
  if (!Array.isArray(list) || !list.every((layer) => Number.isInteger(layer) && layer >= 0))
    throw configError(
      source,
      'layers_to_transform',
      `"layers_to_transform" must be a layer index or a list of them (got ${JSON.stringify(value)}).`,
    );
  return list.length === 0 ? undefined : (list as number[]);
}

function readPeftType(config: Record<string, unknown>, source: string): void {
  const type = config.peft_type;
  if (type === undefined || type === 'LORA') return;
  throw configError(
    source,
    'peft_type',
    `has peft_type ${JSON.stringify(type)}; traitlens applies LoRA adapters only (peft_type "LORA"). Merge the adapter into the weights with PEFT (merge_and_unload) and load the merged model instead.`,
  );
}

function refuseUnsupported(config: Record<string, unknown>, source: string): void {
  for (const { field, why } of refusedFields) {
    if (isUnset(config[field])) continue;
    throw configError(
      source,
      field,
      `sets ${field}=${JSON.stringify(config[field])}: ${why}, which traitlens does not apply. Merge the adapter into the weights with PEFT (merge_and_unload) and load the merged model instead.`,
    );
  }
  if (config.bias !== undefined && config.bias !== 'none')
    throw configError(
      source,
      'bias',
      `sets bias=${JSON.stringify(config.bias)}: adapters that train biases are not supported. Merge the adapter with PEFT (merge_and_unload) and load the merged model instead.`,
    );
}

/**
 * Parses a PEFT adapter_config.json: honours `r`, `lora_alpha`, `use_rslora`, `rank_pattern`,
 * `alpha_pattern`, `target_modules`, `layers_to_transform`, `layers_pattern`, `exclude_modules`; refuses
 * (INVALID_ADAPTER) every field that would make the adapter compute something else (DoRA, lora_bias,
 * modules_to_save, a non-LoRA peft_type, trained biases, ...). Fields that only matter for training
 * (`lora_dropout`, `init_lora_weights`, `task_type`, ...) are ignored.
 */
export function parseAdapterConfig(json: unknown, source: string): AdapterConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new TraitlensError('INVALID_ADAPTER', `${source}: adapter_config.json is not a JSON object.`, {
      details: { file: source },
    });
  }
  const config = json as Record<string, unknown>;
  readPeftType(config, source);
  refuseUnsupported(config, source);
  const rank = config.r;
  if (typeof rank !== 'number' || !Number.isInteger(rank) || rank <= 0)
    throw configError(source, 'r', `"r" must be a positive integer (got ${JSON.stringify(rank)}).`);
  const alpha = config.lora_alpha ?? rank;
  if (typeof alpha !== 'number' || !Number.isFinite(alpha))
    throw configError(source, 'lora_alpha', `"lora_alpha" must be a number (got ${JSON.stringify(alpha)}).`);
  const targetModules = readStringList(config.target_modules, source, 'target_modules');
  if (targetModules !== undefined && targetModules.length === 0)
    throw configError(
      source,
      'target_modules',
      `"target_modules" must be a list of module names or a pattern (got ${JSON.stringify(config.target_modules)}).`,
    );
  const layers = readLayers(config.layers_to_transform, source);
  const layersPatternField = readStringList(config.layers_pattern, source, 'layers_pattern');
  if (typeof targetModules === 'string' && targetModules !== 'all-linear' && (layers || layersPatternField))
    throw configError(
      source,
      'layers_to_transform',
      `combines a pattern target_modules (${JSON.stringify(targetModules)}) with layers_to_transform/layers_pattern, which PEFT refuses too; put the layer into the pattern or list the module names.`,
    );
  const layersPattern = typeof layersPatternField === 'string' ? [layersPatternField] : layersPatternField;
  const excludeModules = readStringList(config.exclude_modules, source, 'exclude_modules');
  return {
    rank,
    alpha,
    useRslora: config.use_rslora === true,
    rankPattern: readNumberRecord(config.rank_pattern, source, 'rank_pattern'),
    alphaPattern: readNumberRecord(config.alpha_pattern, source, 'alpha_pattern'),
    targetModules,
    ...(layers ? { layers } : {}),
    ...(layersPattern && layersPattern.length > 0 ? { layersPattern } : {}),
    ...(excludeModules !== undefined && excludeModules.length > 0 ? { excludeModules } : {}),
    baseModel:
      typeof config.base_model_name_or_path === 'string' ? config.base_model_name_or_path : undefined,
  };
}

/** PEFT's full-match of one regular expression against a module key. */
function fullMatch(pattern: string, key: string): boolean {
  return new RegExp(`^(?:${pattern})$`).test(key);
}

/** PEFT's name match: the key itself or a `.`-separated suffix of it. */
function matchesName(names: readonly string[], key: string): boolean {
  return names.some((name) => key === name || key.endsWith(`.${name}`));
}

/**
 * The key of a rank_pattern/alpha_pattern entry that applies to a module, as PEFT's `get_pattern_key`:
 * the first key (in file order) that, read as a regular expression, full-matches the module key or a
 * `.`-separated suffix of it (`re.match(rf"(.*\.)?({key})$", module)`).
 */
export function matchPatternKey(patternKeys: readonly string[], moduleKey: string): string | undefined {
  return patternKeys.find((key) => new RegExp(`^(?:.*\\.)?(?:${key})$`).test(moduleKey));
}

/** The layer index PEFT reads from a module key (`.{layers_pattern}.{index}.`), or undefined. */
function layerIndexOf(moduleKey: string, layersPattern: readonly string[] | undefined): number | undefined {
  const patterns = layersPattern ?? ['[^.]*'];
  for (const pattern of patterns) {
    const match = new RegExp(`^.*\\.(?:${pattern})\\.(\\d+)\\.`).exec(moduleKey);
    if (match) return Number(match[1]);
  }
  return undefined;
}

/**
 * Does the adapter adapt this module? PEFT's `check_target_module_exists`: a string target_modules is
 * one full-match regular expression (`all-linear` selects every linear module); a list matches the key
 * or a `.`-suffix, and only then do `layers_to_transform`/`layers_pattern` narrow it to those layers;
 * `exclude_modules` wins over both.
 */
export function selectsModule(selection: AdapterModuleSelection, moduleKey: string): boolean {
  const { targetModules, excludeModules, layers, layersPattern } = selection;
  if (excludeModules !== undefined) {
    const excluded =
      typeof excludeModules === 'string'
        ? fullMatch(excludeModules, moduleKey)
        : matchesName(excludeModules, moduleKey);
    if (excluded) return false;
  }
  if (typeof targetModules === 'string' && targetModules !== 'all-linear')
    return fullMatch(targetModules, moduleKey);
  if (typeof targetModules !== 'string' && targetModules.includes(moduleKey)) return true;
  const found = targetModules === 'all-linear' || matchesName(targetModules as readonly string[], moduleKey);
  if (!found || layers === undefined) return found;
  const layer = layerIndexOf(moduleKey, layersPattern);
  return layer !== undefined && layers.includes(layer);
}

/** The rank of one module: its rank_pattern entry (PEFT's matching), else `r`. */
export function adapterRankFor(
  config: Pick<AdapterConfig, 'rank' | 'rankPattern'>,
  moduleKey: string,
): number {
  const key = matchPatternKey(Object.keys(config.rankPattern), moduleKey);
  return key === undefined ? config.rank : config.rankPattern[key]!;
}

/** The alpha of one module: its alpha_pattern entry (PEFT's matching), else `lora_alpha`. */
export function adapterAlphaFor(
  config: Pick<AdapterConfig, 'alpha' | 'alphaPattern'>,
  moduleKey: string,
): number {
  const key = matchPatternKey(Object.keys(config.alphaPattern), moduleKey);
  return key === undefined ? config.alpha : config.alphaPattern[key]!;
}
