import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SafetensorsFile, TraitlensError } from '@traitlens/core';

/** One adapted projection: delta W = scaling * B @ A. */
export interface LoraTarget {
  /** Checkpoint name of the base weight, e.g. `model.layers.3.self_attn.q_proj.weight`. */
  baseTensor: string;
  rank: number;
  scaling: number;
  inFeatures: number;
  outFeatures: number;
  /** [rank, inFeatures] */
  a: Float32Array;
  /** [outFeatures, rank] */
  b: Float32Array;
}

export interface LoraAdapter {
  directory: string;
  rank: number;
  alpha: number;
  useRslora: boolean;
  baseModel: string | undefined;
  targetModules: string[];
  targets: Map<string, LoraTarget>;
  /** sha256 of adapter_config.json + adapter_model.safetensors, for the graph cache key. */
  hash: string;
}

const keyPattern = /^base_model\.model\.(.+)\.lora_([AB])(?:\.default)?\.weight$/;

function adapterError(directory: string, message: string, field?: string): TraitlensError {
  return new TraitlensError('INVALID_ADAPTER', `${directory}: ${message}`, {
    details: { directory, ...(field ? { field } : {}) },
  });
}

/**
 * Loads a PEFT LoRA adapter (adapter_config.json + adapter_model.safetensors, F32/F16/BF16). Supports
 * `r`, `lora_alpha`, `use_rslora` (scaling alpha/sqrt(r) instead of alpha/r), `rank_pattern` and
 * `alpha_pattern` overrides; refuses `fan_in_fan_out`, biases and DoRA, which change the math.
 */
export async function loadLoraAdapter(directory: string): Promise<LoraAdapter> {
  const configPath = join(directory, 'adapter_config.json');
  const weightsPath = join(directory, 'adapter_model.safetensors');
  let configBytes: Buffer;
  try {
    configBytes = await readFile(configPath);
  } catch (cause) {
    throw new TraitlensError(
      'FILE_NOT_FOUND',
      `${configPath} is missing: a PEFT LoRA folder needs adapter_config.json and adapter_model.safetensors.`,
      { cause, details: { file: configPath } },
    );
  }
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(configBytes.toString('utf8')) as Record<string, unknown>;
  } catch (cause) {
    throw new TraitlensError('INVALID_ADAPTER', `${configPath} is not valid JSON.`, {
      cause,
      details: { file: configPath },
    });
  }
  const rank = config.r;
  const alpha = config.lora_alpha ?? rank;
  if (typeof rank !== 'number' || !Number.isInteger(rank) || rank <= 0)
    throw adapterError(
      directory,
      `adapter_config.json "r" must be a positive integer (got ${JSON.stringify(rank)}).`,
      'r',
    );
  if (typeof alpha !== 'number')
    throw adapterError(directory, `adapter_config.json "lora_alpha" must be a number.`, 'lora_alpha');
  if (config.fan_in_fan_out === true)
    throw adapterError(
      directory,
      'fan_in_fan_out=true adapters (GPT-2 Conv1D layout) are not supported.',
      'fan_in_fan_out',
    );
  if (config.use_dora === true)
    throw adapterError(directory, 'DoRA adapters (use_dora=true) are not supported.', 'use_dora');
  if (config.bias !== undefined && config.bias !== 'none')
    throw adapterError(
      directory,
      `adapters that train biases (bias="${String(config.bias)}") are not supported.`,
      'bias',
    );
  const useRslora = config.use_rslora === true;
  const rankPattern = (config.rank_pattern ?? {}) as Record<string, number>;
  const alphaPattern = (config.alpha_pattern ?? {}) as Record<string, number>;
  const targetModules = Array.isArray(config.target_modules)
    ? (config.target_modules as string[])
    : typeof config.target_modules === 'string'
      ? [config.target_modules]
      : [];

  const file = await SafetensorsFile.open(weightsPath).catch((error: unknown) => {
    if (TraitlensError.hasCode(error, 'FILE_NOT_FOUND'))
      throw new TraitlensError(
        'FILE_NOT_FOUND',
        `${weightsPath} is missing (adapter_model.bin is not supported; save the adapter with safe_serialization=True).`,
        { cause: error, details: { file: weightsPath } },
      );
    throw error;
  });
  const targets = new Map<string, LoraTarget>();
  try {
    const pairs = new Map<string, { a?: string; b?: string }>();
    for (const name of file.tensors.keys()) {
      const match = keyPattern.exec(name);
      if (!match) continue;
      const module = match[1]!;
      const entry = pairs.get(module) ?? {};
      if (match[2] === 'A') entry.a = name;
      else entry.b = name;
      pairs.set(module, entry);
    }
    if (pairs.size === 0)
      throw adapterError(
        directory,
        'adapter_model.safetensors has no lora_A/lora_B tensors (expected names like base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight).',
      );
    for (const [module, { a, b }] of pairs) {
      if (!a || !b)
        throw adapterError(
          directory,
          `module ${module} has ${a ? 'lora_A' : 'lora_B'} but not ${a ? 'lora_B' : 'lora_A'}; the file is incomplete.`,
        );
      const aInfo = file.info(a);
      const bInfo = file.info(b);
      const moduleRank = aInfo.shape[0]!;
      if (aInfo.shape.length !== 2 || bInfo.shape.length !== 2 || bInfo.shape[1] !== moduleRank) {
        throw adapterError(
          directory,
          `module ${module}: lora_A [${aInfo.shape.join(', ')}] and lora_B [${bInfo.shape.join(', ')}] do not form a rank-r pair.`,
        );
      }
      const patternKey = Object.keys(rankPattern).find((key) => module.endsWith(key));
      const expectedRank = patternKey ? rankPattern[patternKey]! : rank;
      if (moduleRank !== expectedRank)
        throw adapterError(
          directory,
          `module ${module} has rank ${moduleRank} but adapter_config.json says ${expectedRank}.`,
        );
      const alphaKey = Object.keys(alphaPattern).find((key) => module.endsWith(key));
      const moduleAlpha = alphaKey ? alphaPattern[alphaKey]! : alpha;
      const scaling = useRslora ? moduleAlpha / Math.sqrt(moduleRank) : moduleAlpha / moduleRank;
      targets.set(`${module}.weight`, {
        baseTensor: `${module}.weight`,
        rank: moduleRank,
        scaling,
        inFeatures: aInfo.shape[1]!,
        outFeatures: bInfo.shape[0]!,
        a: Float32Array.from(await file.readFloat32(a)),
        b: Float32Array.from(await file.readFloat32(b)),
      });
    }
  } finally {
    await file.close();
  }
  const hash = createHash('sha256')
    .update(configBytes)
    .update(await readFile(weightsPath))
    .digest('hex')
    .slice(0, 16);
  return {
    directory,
    rank,
    alpha,
    useRslora,
    baseModel:
      typeof config.base_model_name_or_path === 'string' ? config.base_model_name_or_path : undefined,
    targetModules,
    targets,
    hash,
  };
}

/** delta rows [rowStart, rowEnd) of scaling * B @ A, added into `rows` (row-major [n, inFeatures]). */
export function addLoraDelta(
  rows: Float32Array,
  target: LoraTarget,
  rowStart: number,
  rowEnd: number,
  multiplier = 1,
): void {
  const { rank, inFeatures, a, b } = target;
  const factor = target.scaling * multiplier;
  for (let row = rowStart; row < rowEnd; row++) {
    const out = (row - rowStart) * inFeatures;
    for (let r = 0; r < rank; r++) {
      const weight = b[row * rank + r]! * factor;
      if (weight === 0) continue;
      const aRow = r * inFeatures;
      for (let i = 0; i < inFeatures; i++) rows[out + i] = rows[out + i]! + weight * a[aRow + i]!;
    }
  }
}
