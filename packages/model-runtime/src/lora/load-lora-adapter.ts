import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SafetensorsFile, TraitlensError } from '@traitlens/core';
import {
  type AdapterConfig,
  adapterAlphaFor,
  adapterRankFor,
  parseAdapterConfig,
  selectsModule,
} from './adapter-config';

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

async function readAdapterConfig(configPath: string): Promise<{ bytes: Buffer; config: AdapterConfig }> {
  let bytes: Buffer;
  try {
    bytes = await readFile(configPath);
  } catch (cause) {
    throw new TraitlensError(
      'FILE_NOT_FOUND',
      `${configPath} is missing: a PEFT LoRA folder needs adapter_config.json and adapter_model.safetensors.`,
      { cause, details: { file: configPath } },
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (cause) {
    throw new TraitlensError('INVALID_ADAPTER', `${configPath} is not valid JSON.`, {
      cause,
      details: { file: configPath },
    });
  }
  return { bytes, config: parseAdapterConfig(json, configPath) };
}

/** Why a tensor that is not a lora_A/lora_B weight cannot be applied (PEFT would use it; we refuse it). */
function unsupportedTensorReason(name: string): string {
  if (/\.lora_embedding_[AB]\b/.test(name)) return 'an embedding LoRA (lora_embedding_A/B)';
  if (/\.lora_magnitude_vector\b/.test(name)) return 'a DoRA magnitude vector';
  if (/\.lora_[AB](?:\.default)?\.bias$/.test(name)) return 'a lora bias (lora_bias=true)';
  if (/\.modules_to_save\b/.test(name) || !/\.lora_/.test(name))
    return 'a whole trained module (modules_to_save)';
  return 'a LoRA tensor of a kind traitlens does not apply';
}

/** Pairs lora_A/lora_B tensor names per module; refuses any other tensor, which a plain LoRA does not have. */
function pairLoraTensors(
  directory: string,
  names: Iterable<string>,
): Map<string, { a?: string; b?: string }> {
  const pairs = new Map<string, { a?: string; b?: string }>();
  for (const name of names) {
    const match = keyPattern.exec(name);
    if (!match) {
      throw adapterError(
        directory,
        `adapter_model.safetensors holds "${name}", ${unsupportedTensorReason(name)}, which traitlens does not apply. Merge the adapter into the weights with PEFT (merge_and_unload) and load the merged model instead.`,
      );
    }
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
  return pairs;
}

/**
 * Loads a PEFT LoRA adapter (adapter_config.json + adapter_model.safetensors, F32/F16/BF16). The config is
 * read by `parseAdapterConfig` (shared with the memory planner): `r`, `lora_alpha`, `use_rslora` (scaling
 * alpha/sqrt(r) instead of alpha/r), `rank_pattern`/`alpha_pattern` (matched as PEFT does),
 * `target_modules`, `layers_to_transform`, `layers_pattern`, `exclude_modules` are honoured; DoRA,
 * lora_bias, modules_to_save, embedding LoRA, trained biases, `fan_in_fan_out` and non-LoRA PEFT types
 * are refused. A module with tensors in the file that the config does not select is refused too (PEFT
 * would silently skip it).
 */
export async function loadLoraAdapter(directory: string): Promise<LoraAdapter> {
  const configPath = join(directory, 'adapter_config.json');
  const weightsPath = join(directory, 'adapter_model.safetensors');
  const { bytes: configBytes, config } = await readAdapterConfig(configPath);
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
    for (const [module, { a, b }] of pairLoraTensors(directory, file.tensors.keys())) {
      if (!a || !b)
        throw adapterError(
          directory,
          `module ${module} has ${a ? 'lora_A' : 'lora_B'} but not ${a ? 'lora_B' : 'lora_A'}; the file is incomplete.`,
        );
      if (
        config.targetModules !== undefined &&
        !selectsModule({ ...config, targetModules: config.targetModules }, module)
      )
        throw adapterError(
          directory,
          `adapter_model.safetensors has weights for ${module}, which adapter_config.json's target_modules/layers_to_transform/exclude_modules do not select (PEFT would skip them). Fix adapter_config.json or re-save the adapter.`,
          'target_modules',
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
      const expectedRank = adapterRankFor(config, module);
      if (moduleRank !== expectedRank)
        throw adapterError(
          directory,
          `module ${module} has rank ${moduleRank} but adapter_config.json says ${expectedRank}.`,
          'rank_pattern',
        );
      const moduleAlpha = adapterAlphaFor(config, module);
      const scaling = config.useRslora ? moduleAlpha / Math.sqrt(moduleRank) : moduleAlpha / moduleRank;
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
    rank: config.rank,
    alpha: config.alpha,
    useRslora: config.useRslora,
    baseModel: config.baseModel,
    targetModules:
      config.targetModules === undefined
        ? []
        : typeof config.targetModules === 'string'
          ? [config.targetModules]
          : [...config.targetModules],
    targets,
    hash,
  };
}

/**
 * delta rows [start, end) of multiplier (default 1) * scaling * B @ A, added into `rows` (row-major
 * [end - start, inFeatures]).
 */
export function addLoraDelta(
  rows: Float32Array,
  target: LoraTarget,
  range: { start: number; end: number; multiplier?: number | undefined },
): void {
  const { rank, inFeatures, a, b } = target;
  const { start: rowStart, end: rowEnd } = range;
  const factor = target.scaling * (range.multiplier ?? 1);
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
