import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type ActivationTexts,
  experimentLayout,
  readActivationFile,
  readTraitVectors,
  type SafetensorsTensorInput,
  writeActivationFile,
  writeJsonAtomic,
  writeSafetensors,
  writeTraitVectors,
} from '@traitlens/core';
import { createSeededRandom } from '../src/stats/seeded-random';

/**
 * Test-only: writes a small experiment with core's writers. Variant B equals variant A plus small
 * independent noise, and on labelled prompts (label 1) adds `shift` along the planted trait's direction at
 * one layer, on the exploit span only. Every other trait is a control with no planted signal.
 */
export interface SyntheticExperimentOptions {
  root: string;
  hiddenSize?: number;
  layers?: number;
  prompts?: number;
  responseTokens?: number;
  promptTokens?: number;
  traits?: string[];
  plantedTrait?: string;
  plantedLayer?: number;
  shift?: number;
  /** Response token span [start, end) carrying the shift on label-1 prompts. */
  exploitSpan?: [number, number];
  /** Bias ids cycled over pairs of prompts (so each bias holds both labels); the first half are train biases unless `trainGroups` says otherwise. */
  groups?: number[];
  trainGroups?: number[];
  /** Prompt set name (default `synthetic`); other sets write `<set>-labels.json` etc. */
  promptSet?: string;
  /** Seed of the directions (vector files); the same for every prompt set of one experiment. */
  seed?: number;
  /** Seed of the activations (default: `seed`), so two prompt sets can hold different data. */
  dataSeed?: number;
}

export interface SyntheticExperiment {
  root: string;
  labels: Record<string, 0 | 1>;
  annotations: Record<string, { exploitations: { tokens: [number, number] }[] }>;
  promptSet: { prompts: { id: string; bias_id: number; split: string }[] };
  directions: Map<string, Float32Array>;
  trainGroups: number[];
}

export async function writeSyntheticExperiment(
  options: SyntheticExperimentOptions,
): Promise<SyntheticExperiment> {
  const hiddenSize = options.hiddenSize ?? 32;
  const layerCount = options.layers ?? 6;
  const promptCount = options.prompts ?? 80;
  const responseTokens = options.responseTokens ?? 16;
  const promptTokens = options.promptTokens ?? 4;
  const traits = options.traits ?? ['planted', 'control'];
  const plantedTrait = options.plantedTrait ?? traits[0]!;
  const plantedLayer = options.plantedLayer ?? 3;
  const shift = options.shift ?? 0.8;
  const [spanStart, spanEnd] = options.exploitSpan ?? [4, 12];
  const groups = options.groups ?? [44, 8, 17, 19];
  let random = createSeededRandom(options.seed ?? 1);
  const setName = options.promptSet ?? 'synthetic';
  const prefix = setName === 'synthetic' ? '' : `${setName}-`;
  const layout = experimentLayout(options.root);
  const unit = (): Float32Array => {
    const v = Float32Array.from({ length: hiddenSize }, () => random.nextNormal());
    const norm = Math.hypot(...v);
    return v.map((x) => x / norm);
  };
  const directions = new Map<string, Float32Array>();
  for (const trait of traits) {
    // Orthogonal to the traits before it (Gram-Schmidt), so controls carry none of the planted signal.
    const direction = unit();
    for (const other of directions.values()) {
      const overlap = direction.reduce((sum, x, j) => sum + x * other[j]!, 0);
      for (let j = 0; j < hiddenSize; j++) direction[j]! -= overlap * other[j]!;
    }
    const length = Math.hypot(...direction);
    for (let j = 0; j < hiddenSize; j++) direction[j]! /= length;
    directions.set(trait, direction);
    const vectors = new Map<number, Float32Array>();
    // Stored at 3x unit length: projections must not depend on the stored norm.
    for (let layer = 0; layer < layerCount; layer++)
      vectors.set(
        layer,
        direction.map((x) => 3 * x),
      );
    await writeTraitVectors(join(layout.extraction('alignment', trait).vectors, 'mean_diff.safetensors'), {
      metadata: {
        trait,
        method: 'mean_diff',
        model: 'synthetic',
        site: 'resid_post',
        tokenWindow: 'response[:5]',
        normalisation: 'raw',
        hiddenSize,
      },
      vectors,
    });
  }
  const planted = directions.get(plantedTrait)!;
  // A per-layer mean offset makes norms grow with depth, as in real models.
  const offsets = Array.from({ length: layerCount }, (_, layer) => unit().map((x) => x * layer * 0.5));
  const labels: SyntheticExperiment['labels'] = {};
  const annotations: SyntheticExperiment['annotations'] = {};
  const promptSet: SyntheticExperiment['promptSet'] = { prompts: [] };
  const trainGroups = options.trainGroups ?? groups.slice(0, Math.ceil(groups.length / 2));
  if (options.dataSeed !== undefined) random = createSeededRandom(options.dataSeed);
  for (let p = 0; p < promptCount; p++) {
    const promptId = `p${String(p).padStart(3, '0')}`;
    const label: 0 | 1 = p % 2 === 0 ? 1 : 0;
    const group = groups[Math.floor(p / 2) % groups.length]!;
    labels[promptId] = label;
    annotations[promptId] = { exploitations: label === 1 ? [{ tokens: [spanStart, spanEnd] }] : [] };
    promptSet.prompts.push({
      id: promptId,
      bias_id: group,
      split: trainGroups.includes(group) ? 'train' : 'test',
    });
    const promptTokenIds = Int32Array.from({ length: promptTokens }, (_, i) => 100 + i);
    const responseTokenIds = Int32Array.from({ length: responseTokens }, (_, i) => 200 + ((p + i) % 50));
    const activationsA = new Map<string, Float32Array>();
    const activationsB = new Map<string, Float32Array>();
    for (let layer = 0; layer < layerCount; layer++) {
      const promptRows = Float32Array.from(
        { length: promptTokens * hiddenSize },
        (_, i) => random.nextNormal() + offsets[layer]![i % hiddenSize]!,
      );
      const rowsA = Float32Array.from(
        { length: responseTokens * hiddenSize },
        (_, i) => random.nextNormal() + offsets[layer]![i % hiddenSize]!,
      );
      const rowsB = rowsA.map((x) => x + 0.3 * random.nextNormal());
      if (label === 1 && layer === plantedLayer) {
        for (let t = spanStart; t < Math.min(spanEnd, responseTokens); t++)
          for (let j = 0; j < hiddenSize; j++) rowsB[t * hiddenSize + j]! += shift * planted[j]!;
      }
      activationsA.set(`prompt.resid_post.${layer}`, promptRows);
      activationsB.set(`prompt.resid_post.${layer}`, promptRows);
      activationsA.set(`response.resid_post.${layer}`, rowsA);
      activationsB.set(`response.resid_post.${layer}`, rowsB);
    }
    const texts: ActivationTexts = {
      promptId,
      promptText: `Synthetic prompt ${p}`,
      responseText: 'synthetic response',
      promptTokens: Array.from(promptTokenIds, (id) => `<${id}>`),
      responseTokens: Array.from(responseTokenIds, (id, i) =>
        i >= spanStart && i < spanEnd && label === 1 ? ` EXPLOIT${id}` : ` word${id}`,
      ),
      bias_id: group,
    };
    for (const [variant, activations] of [
      ['clean', activationsA],
      ['lora', activationsB],
    ] as const) {
      await writeActivationFile(
        join(layout.inference(variant, setName).activations, `${promptId}.safetensors`),
        { variant, model: 'synthetic', promptId, promptTokenIds, responseTokenIds, hiddenSize, activations },
        texts,
      );
    }
  }
  const labelsPath = join(options.root, `${prefix}labels.json`);
  await writeJsonAtomic(labelsPath, labels);
  await writeJsonAtomic(join(options.root, `${prefix}annotations.json`), annotations);
  await writeJsonAtomic(join(options.root, `${prefix}prompt-set.json`), promptSet);
  return { root: options.root, labels, annotations, promptSet, directions, trainGroups };
}

/**
 * Test-only: writes capture-style projection files (`inference/<variant>/<set>/projections/<id>.safetensors`,
 * the schema of capture's `writeProjectionFile`) from an experiment's activation files and vector files,
 * as if the projections had been taken during capture instead of storing activations.
 */
export async function writeCaptureProjectionFiles(
  root: string,
  variants: readonly string[],
  promptSet: string,
): Promise<void> {
  const layout = experimentLayout(root);
  const traits = (await readdir(join(root, 'extraction', 'alignment'))).sort();
  const sets = await Promise.all(
    traits.map((trait) =>
      readTraitVectors(join(layout.extraction('alignment', trait).vectors, 'mean_diff.safetensors')),
    ),
  );
  for (const variant of variants) {
    const folders = layout.inference(variant, promptSet);
    for (const name of (await readdir(folders.activations)).filter((file) => file.endsWith('.safetensors'))) {
      const record = await readActivationFile(join(folders.activations, name));
      const tensors: Record<string, SafetensorsTensorInput> = {
        prompt_ids: { dtype: 'I32', shape: [record.promptTokenIds.length], data: record.promptTokenIds },
        response_ids: {
          dtype: 'I32',
          shape: [record.responseTokenIds.length],
          data: record.responseTokenIds,
        },
      };
      const columns: Record<
        string,
        { name: string; trait: string; method: string; model: string; norm: number }[]
      > = {};
      for (const [tensorName, rows] of record.activations) {
        const [part, site, layerText] = tensorName.split('.') as [string, string, string];
        const point = `${site}.${layerText}`;
        const vectors = sets.map((set) => set.vectors.get(Number(layerText))!);
        columns[point] = sets.map((set, k) => ({
          name: `${set.metadata.trait}:mean_diff`,
          trait: set.metadata.trait,
          method: 'mean_diff',
          model: 'synthetic',
          norm: Math.hypot(...vectors[k]!),
        }));
        const tokenCount = rows.length / record.hiddenSize;
        const values = new Float32Array(tokenCount * sets.length);
        const norms = new Float32Array(tokenCount);
        for (let t = 0; t < tokenCount; t++) {
          const row = rows.subarray(t * record.hiddenSize, (t + 1) * record.hiddenSize);
          norms[t] = Math.hypot(...row);
          vectors.forEach((vector, k) => {
            let dot = 0;
            for (let j = 0; j < record.hiddenSize; j++) dot += row[j]! * vector[j]!;
            values[t * sets.length + k] = dot / columns[point]![k]!.norm;
          });
        }
        tensors[tensorName] = { dtype: 'F32', shape: [tokenCount, sets.length], data: values };
        tensors[`${part}_norm.${point}`] = { dtype: 'F32', shape: [tokenCount], data: norms };
      }
      await writeSafetensors(join(folders.projections, name), tensors, {
        format: 'traitlens.projections',
        format_version: '1',
        variant,
        model: 'synthetic',
        prompt_id: record.promptId,
        hidden_size: String(record.hiddenSize),
        columns: JSON.stringify(columns),
      });
    }
  }
}
