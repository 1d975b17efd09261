import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseLayerSelection, TraitlensError } from '@traitlens/core';
import { parseModelConfig } from '../architectures/index';
import type { HubOptions } from '../hub/hub-settings';
import { adapterConfigFile, modelConfigFile } from '../hub/model-file-selection';
import { type ResolvedModelSource, resolveModelSource } from '../hub/resolve-model-source';
import type { ModelConfig } from '../model/model-types';
import { type LoraPlan, parseAdapterConfigForPlan } from './lora-plan';
import { type MemoryPlan, type MemoryPlanOptions, planMemory } from './plan-memory';

export interface PlanMemoryForSourceOptions
  extends Omit<MemoryPlanOptions, 'config' | 'lora' | 'captureLayers'> {
  /** `hf:org/name[@revision]` or a local folder; for the Hub only config.json is downloaded. */
  model: string;
  /** A PEFT LoRA adapter, `hf:` or a folder; only adapter_config.json is downloaded. */
  lora?: string;
  loraMode?: LoraPlan['mode'];
  /** Captured layers: a selection (`all`, `10-20`, `3,5`), a count, or a list. */
  captureLayers?: string | number | readonly number[];
  hub?: HubOptions;
}

export interface SourceMemoryPlan {
  plan: MemoryPlan;
  config: ModelConfig;
  model: ResolvedModelSource;
  lora: ResolvedModelSource | undefined;
}

async function readJson(path: string): Promise<unknown> {
  const text = await readFile(path, 'utf8');
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new TraitlensError('INVALID_CONFIG', `${path} is not valid JSON (${(error as Error).message}).`, {
      cause: error,
      details: { file: path },
    });
  }
}

/**
 * Plans memory for a model (and adapter) named the way users name them, fetching only their config
 * files: enough to know whether a 70B model fits before downloading its weights.
 */
export async function planMemoryForSource(options: PlanMemoryForSourceOptions): Promise<SourceMemoryPlan> {
  const { model: modelSource, lora: loraSource, loraMode, captureLayers, hub, ...planOptions } = options;
  const model = await resolveModelSource(modelSource, { ...hub, configOnly: true });
  const configPath = join(model.directory, modelConfigFile);
  const config = parseModelConfig(await readJson(configPath), configPath);
  let lora: ResolvedModelSource | undefined;
  let loraPlan: LoraPlan | undefined;
  if (loraSource) {
    lora = await resolveModelSource(loraSource, { ...hub, kind: 'adapter', configOnly: true });
    const adapterPath = join(lora.directory, adapterConfigFile);
    loraPlan = {
      ...parseAdapterConfigForPlan(await readJson(adapterPath), adapterPath),
      ...(loraMode ? { mode: loraMode } : {}),
    };
  }
  const captured =
    typeof captureLayers === 'string' ? parseLayerSelection(captureLayers, config.layerCount) : captureLayers;
  const plan = planMemory({
    ...planOptions,
    config,
    lora: loraPlan,
    captureLayers: captured,
  });
  return { plan, config, model, lora };
}
