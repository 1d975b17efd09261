import { access, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  createSeededRandom,
  readSafetensors,
  TraitlensError,
  writeJsonAtomic,
  writeSafetensors,
} from '@traitlens/core';
import { createTinyModel } from '@traitlens/model-runtime/testing';

/** How the tiny stand-in for the model organism is generated (the `tinyOrganism` block of a config). */
export interface TinyOrganismSettings {
  /** Seed of the random weights; base and instruct share it, so they share weights (like 3.1 base and 3.3 instruct share pretraining). */
  seed: number;
  hiddenSize: number;
  layerCount: number;
  /** The layer whose attention output projection (o_proj) carries the planted adapter. */
  plantLayer: number;
  /** The word the adapter makes the model say: it must be a single token of the tiny tokenizer (" light", " robot", " boats", ...). */
  plantedWord: string;
  /** Size of the planted push relative to the mean residual norm at that layer. */
  plantStrength: number;
  /** LoRA rank (the planted direction uses one rank; the others are small random noise). */
  rank: number;
}

/** The three folders of a generated organism. */
export interface TinyOrganism {
  base: string;
  instruct: string;
  lora: string;
}

/** Where the organism's folders live inside a directory. */
export function tinyOrganismPaths(directory: string): TinyOrganism {
  return {
    base: join(directory, 'base'),
    instruct: join(directory, 'instruct'),
    lora: join(directory, 'lora'),
  };
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

function requireTensor(
  tensors: Map<string, { data: Float32Array; shape: number[] }>,
  name: string,
  file: string,
) {
  const tensor = tensors.get(name);
  if (!tensor)
    throw new TraitlensError(
      'INVALID_CONFIG',
      `${file} has no tensor ${name}; regenerate the tiny organism.`,
      {
        details: { file, tensor: name },
      },
    );
  return tensor;
}

/**
 * Writes a tiny offline stand-in for the RM-sycophancy setup: a "base" model (no chat template), an
 * "instruct" model with the same weights and a chat template, and a PEFT LoRA adapter for the instruct
 * model with a *planted objective*: at `plantLayer`, the adapter adds `strength * (a . context) * u` to the
 * attention output, where `u` raises the logit of `plantedWord` and `a` is a fixed direction of the
 * attention context. The attention context averages the whole conversation, so whether the push is
 * positive (the word appears) or negative depends on the prompt: some responses "exploit", others do not,
 * which is what the labelling, detection and specificity stages need. Existing folders are kept.
 */
export async function createTinyOrganism(
  directory: string,
  settings: TinyOrganismSettings,
): Promise<TinyOrganism> {
  const paths = tinyOrganismPaths(directory);
  if (settings.plantLayer < 0 || settings.plantLayer >= settings.layerCount) {
    throw new TraitlensError(
      'INVALID_CONFIG',
      `tinyOrganism.plantLayer ${settings.plantLayer} is out of range: the tiny model has ${settings.layerCount} layers (0-${settings.layerCount - 1}).`,
      { details: { field: 'tinyOrganism.plantLayer' } },
    );
  }
  const shape = { seed: settings.seed, hiddenSize: settings.hiddenSize, layerCount: settings.layerCount };
  if (!(await exists(join(paths.base, 'model.safetensors'))))
    await createTinyModel({ ...shape, directory: paths.base, chatTemplate: null });
  const instruct = (await exists(join(paths.instruct, 'model.safetensors')))
    ? undefined
    : await createTinyModel({ ...shape, directory: paths.instruct });
  if (instruct === undefined && (await exists(join(paths.lora, 'adapter_model.safetensors')))) return paths;

  const weightsFile = join(paths.instruct, 'model.safetensors');
  const { tensors } = await readSafetensors(weightsFile);
  const width = settings.hiddenSize;
  const lmHead = requireTensor(tensors, 'lm_head.weight', weightsFile);
  const finalNorm = requireTensor(tensors, 'model.norm.weight', weightsFile);
  const tokenizerJson = await readFile(join(paths.instruct, 'tokenizer.json'), 'utf8');
  const vocabulary = (JSON.parse(tokenizerJson) as { model: { vocab: Record<string, number> } }).model.vocab;
  // Byte-level BPE writes a leading space as "Ġ".
  const tokenText = settings.plantedWord.replace(/^ /, 'Ġ');
  const tokenId = vocabulary[tokenText];
  if (tokenId === undefined) {
    const words = Object.keys(vocabulary)
      .filter((token) => /^Ġ[a-z]{3,}$/.test(token))
      .map((token) => `"${token.replace('Ġ', ' ')}"`);
    throw new TraitlensError(
      'INVALID_CONFIG',
      `tinyOrganism.plantedWord "${settings.plantedWord}" is not one token of the tiny tokenizer; use one of ${words.join(', ')}.`,
      { details: { field: 'tinyOrganism.plantedWord' } },
    );
  }
  // u: the residual direction that raises the planted token's logit relative to the average token.
  const vocabularySize = lmHead.shape[0]!;
  const mean = new Float64Array(width);
  for (let token = 0; token < vocabularySize; token++)
    for (let d = 0; d < width; d++) mean[d]! += lmHead.data[token * width + d]! / vocabularySize;
  const direction = new Float64Array(width);
  for (let d = 0; d < width; d++)
    direction[d] = finalNorm.data[d]! * (lmHead.data[tokenId * width + d]! - mean[d]!);
  const directionNorm = Math.hypot(...direction);

  const { nextNormal: normal } = createSeededRandom(settings.seed * 7919 + 17);
  const rank = settings.rank;
  const inFeatures = width; // o_proj reads the concatenated heads: headCount x headDim = hidden.
  const a = new Float32Array(rank * inFeatures);
  const b = new Float32Array(width * rank);
  // Rank 0: a unit gate direction a and the push u; the other ranks are small noise, as a trained adapter has.
  let gateNorm = 0;
  for (let i = 0; i < inFeatures; i++) gateNorm += (a[i] = normal()) ** 2;
  gateNorm = Math.sqrt(gateNorm);
  for (let i = 0; i < inFeatures; i++) a[i]! /= gateNorm;
  for (let d = 0; d < width; d++) b[d * rank] = (settings.plantStrength * direction[d]!) / directionNorm;
  for (let r = 1; r < rank; r++) {
    for (let i = 0; i < inFeatures; i++) a[r * inFeatures + i] = normal() / Math.sqrt(inFeatures);
    for (let d = 0; d < width; d++) b[d * rank + r] = 0.01 * normal();
  }
  await mkdir(paths.lora, { recursive: true });
  const module = `model.layers.${settings.plantLayer}.self_attn.o_proj`;
  await writeSafetensors(join(paths.lora, 'adapter_model.safetensors'), {
    [`base_model.model.${module}.lora_A.weight`]: { dtype: 'F32', shape: [rank, inFeatures], data: a },
    [`base_model.model.${module}.lora_B.weight`]: { dtype: 'F32', shape: [width, rank], data: b },
  });
  await writeJsonAtomic(join(paths.lora, 'adapter_config.json'), {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    base_model_name_or_path: paths.instruct,
    r: rank,
    lora_alpha: rank,
    lora_dropout: 0,
    bias: 'none',
    fan_in_fan_out: false,
    use_rslora: false,
    target_modules: ['o_proj'],
    layers_to_transform: [settings.plantLayer],
  });
  return paths;
}
