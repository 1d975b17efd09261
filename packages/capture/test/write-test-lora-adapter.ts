import { join } from 'node:path';
import {
  readSafetensors,
  type SafetensorsTensorInput,
  writeJsonAtomic,
  writeSafetensors,
} from '@traitlens/core';

/**
 * Writes a PEFT LoRA adapter (adapter_config.json + adapter_model.safetensors) on q_proj of every layer
 * of a model folder, with deterministic pseudo-random A [r, in] and B [out, r] large enough to change
 * the model's activations visibly. Test-only.
 */
export async function writeTestLoraAdapter(
  modelDirectory: string,
  adapterDirectory: string,
  options: { rank?: number; alpha?: number; seed?: number; magnitude?: number } = {},
): Promise<void> {
  const rank = options.rank ?? 4;
  const alpha = options.alpha ?? 8;
  const magnitude = options.magnitude ?? 0.5;
  const weights = await readSafetensors(join(modelDirectory, 'model.safetensors'));
  let state = options.seed ?? 7;
  const random = () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return (state / 2147483648 - 0.5) * 2 * magnitude;
  };
  const tensors: Record<string, SafetensorsTensorInput> = {};
  for (let layer = 0; weights.tensors.has(`model.layers.${layer}.self_attn.q_proj.weight`); layer++) {
    const base = `model.layers.${layer}.self_attn.q_proj`;
    const [out, inFeatures] = weights.tensors.get(`${base}.weight`)!.shape as [number, number];
    tensors[`base_model.model.${base}.lora_A.weight`] = {
      dtype: 'F32',
      shape: [rank, inFeatures],
      data: Float32Array.from({ length: rank * inFeatures }, random),
    };
    tensors[`base_model.model.${base}.lora_B.weight`] = {
      dtype: 'F32',
      shape: [out, rank],
      data: Float32Array.from({ length: out * rank }, random),
    };
  }
  await writeSafetensors(join(adapterDirectory, 'adapter_model.safetensors'), tensors);
  await writeJsonAtomic(join(adapterDirectory, 'adapter_config.json'), {
    peft_type: 'LORA',
    r: rank,
    lora_alpha: alpha,
    target_modules: ['q_proj'],
    bias: 'none',
    base_model_name_or_path: modelDirectory,
  });
}
