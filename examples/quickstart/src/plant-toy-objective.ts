import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readSafetensors, readTraitVectors, TraitlensError, writeSafetensors } from '@traitlens/core';
import type { LanguageModel } from '@traitlens/model-runtime';

export interface PlantToyObjectiveOptions {
  model: LanguageModel;
  /** The model folder (for its weights). */
  modelDirectory: string;
  /** Trait vector file whose direction the adapter pushes along. */
  vectorFile: string;
  layer: number;
  /** How far to push, in units of the mean residual norm at the layer. */
  strength: number;
  /** Texts that define the adapter's "typical input" (the MLP activation it responds to). */
  texts: readonly string[];
  outputDirectory: string;
}

function rmsNorm(row: Float32Array, weight: Float32Array, eps: number): Float64Array {
  let sum = 0;
  for (const value of row) sum += value * value;
  const scale = 1 / Math.sqrt(sum / row.length + eps);
  return Float64Array.from(row, (value, i) => value * scale * weight[i]!);
}

/**
 * A toy "model organism" for the demo: a rank-1 PEFT LoRA on one layer's down_proj whose update is
 * strength·|h|·v·(a·m) — it adds the trait direction v in proportion to how much the MLP activation m
 * looks like its average on story text. The adapted model is nudged toward the trait on ordinary text,
 * which the capture + model-diff stages should then detect at that layer and after. This is a planted
 * objective for demonstration, not a trained one.
 */
export async function plantToyObjective(options: PlantToyObjectiveOptions): Promise<string> {
  const { model, layer } = options;
  const { hiddenSize, intermediateSize, rmsNormEps } = model.config;
  const vectors = await readTraitVectors(options.vectorFile);
  const direction = vectors.vectors.get(layer);
  if (!direction)
    throw new TraitlensError(
      'INVALID_VECTOR_FILE',
      `${options.vectorFile} has no vector for layer ${layer}.`,
    );
  const weights = (await readSafetensors(join(options.modelDirectory, 'model.safetensors'))).tensors;
  const prefix = `model.layers.${layer}`;
  const postNorm = weights.get(`${prefix}.post_attention_layernorm.weight`)!.data;
  const gate = weights.get(`${prefix}.mlp.gate_proj.weight`)!.data;
  const up = weights.get(`${prefix}.mlp.up_proj.weight`)!.data;

  // Mean MLP activation silu(x Wg^T) * (x Wu^T) over the texts, from the captured resid_mid.
  const rows = await model.forward([...options.texts], {
    capture: [
      { layer, site: 'resid_mid' },
      { layer, site: 'resid_post' },
    ],
    logits: 'none',
  });
  const meanActivation = new Float64Array(intermediateSize);
  let tokens = 0;
  let residualNorm = 0;
  for (const row of rows) {
    const mid = row.captures.get(`resid_mid.${layer}`)!;
    const post = row.captures.get(`resid_post.${layer}`)!;
    for (let t = 0; t < row.tokenIds.length; t++) {
      const x = rmsNorm(mid.subarray(t * hiddenSize, (t + 1) * hiddenSize), postNorm, rmsNormEps);
      for (let j = 0; j < intermediateSize; j++) {
        let g = 0;
        let u = 0;
        for (let i = 0; i < hiddenSize; i++) {
          g += x[i]! * gate[j * hiddenSize + i]!;
          u += x[i]! * up[j * hiddenSize + i]!;
        }
        meanActivation[j] = meanActivation[j]! + (g / (1 + Math.exp(-g))) * u;
      }
      let norm = 0;
      for (let i = 0; i < hiddenSize; i++) norm += post[t * hiddenSize + i]! ** 2;
      residualNorm += Math.sqrt(norm);
      tokens++;
    }
  }
  let squared = 0;
  for (let j = 0; j < intermediateSize; j++) {
    meanActivation[j] = meanActivation[j]! / tokens;
    squared += meanActivation[j]! ** 2;
  }
  residualNorm /= tokens;
  // a = m̄ / |m̄|², so a·m̄ = 1; B = strength · mean|h| · v (unit vector).
  const a = Float32Array.from(meanActivation, (value) => value / squared);
  let directionNorm = 0;
  for (const value of direction) directionNorm += value * value;
  directionNorm = Math.sqrt(directionNorm);
  const b = Float32Array.from(
    direction,
    (value) => (options.strength * residualNorm * value) / directionNorm,
  );

  await mkdir(options.outputDirectory, { recursive: true });
  await writeSafetensors(join(options.outputDirectory, 'adapter_model.safetensors'), {
    [`base_model.model.${prefix}.mlp.down_proj.lora_A.weight`]: {
      dtype: 'F32',
      shape: [1, intermediateSize],
      data: a,
    },
    [`base_model.model.${prefix}.mlp.down_proj.lora_B.weight`]: {
      dtype: 'F32',
      shape: [hiddenSize, 1],
      data: b,
    },
  });
  await writeFile(
    join(options.outputDirectory, 'adapter_config.json'),
    `${JSON.stringify({ peft_type: 'LORA', r: 1, lora_alpha: 1, target_modules: ['down_proj'], bias: 'none', base_model_name_or_path: 'stories260k', traitlens_note: `toy planted objective: pushes layer ${layer} along ${vectors.metadata.trait}` }, null, 2)}\n`,
  );
  return options.outputDirectory;
}
