/**
 * Writes the inputs of the switchable-LoRA parity fixture (packages/model-runtime/src/__fixtures__/
 * parity-lora): a PEFT adapter (rank 4, alpha 8, on q/k/v/o/gate/up/down of both layers) for the `llama`
 * parity model, the same model with the adapter merged in float64 (W + alpha/r * B A, stored F32), and
 * the llama cases.json pointing at the merged model. The expected outputs then come from the float64
 * reference run on the merged model:
 *
 *   node --conditions=@traitlens/source --import tsx tools/reference/create-lora-parity-fixture.ts
 *   /usr/bin/python3 tools/reference/reference_forward.py run packages/model-runtime/src/__fixtures__/parity-lora/cases.json
 *
 * A switchable adapter at loraScale 1 must reproduce these goldens, at loraScale 0 the plain llama ones.
 * Deterministic: rerunning it reproduces the committed bytes.
 */
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  createSeededRandom,
  readSafetensors,
  writeJsonAtomic,
  writeSafetensors,
} from '../../packages/core/src/index';

const fixtures = join(import.meta.dirname, '../../packages/model-runtime/src/__fixtures__');
const base = join(fixtures, 'parity/llama');
const out = join(fixtures, 'parity-lora');
const rank = 4;
const alpha = 8;
const modules = ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.o_proj'].concat([
  'mlp.gate_proj',
  'mlp.up_proj',
  'mlp.down_proj',
]);

const weights = (await readSafetensors(join(base, 'model/model.safetensors'))).tensors;
const random = createSeededRandom(2027);
const merged = new Map<string, Float64Array>();
for (const [name, tensor] of weights) merged.set(name, Float64Array.from(tensor.data));
const adapter: Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }> = {};
const layerCount = JSON.parse(await readFile(join(base, 'cases.json'), 'utf8')).layerCount as number;
for (let layer = 0; layer < layerCount; layer++) {
  for (const module of modules) {
    const name = `model.layers.${layer}.${module}`;
    const [outFeatures, inFeatures] = weights.get(`${name}.weight`)!.shape as [number, number];
    // Entries of size ~0.2 move the logits by O(1): the adapted and clean goldens differ clearly.
    const a = Float32Array.from({ length: rank * inFeatures }, () => (random.nextUniform() - 0.5) * 0.4);
    const b = Float32Array.from({ length: outFeatures * rank }, () => (random.nextUniform() - 0.5) * 0.4);
    adapter[`base_model.model.${name}.lora_A.weight`] = { dtype: 'F32', shape: [rank, inFeatures], data: a };
    adapter[`base_model.model.${name}.lora_B.weight`] = { dtype: 'F32', shape: [outFeatures, rank], data: b };
    const w = merged.get(`${name}.weight`)!;
    for (let o = 0; o < outFeatures; o++)
      for (let i = 0; i < inFeatures; i++) {
        let sum = 0;
        for (let r = 0; r < rank; r++) sum += b[o * rank + r]! * a[r * inFeatures + i]!;
        w[o * inFeatures + i]! += (alpha / rank) * sum;
      }
  }
}

await mkdir(join(out, 'adapter'), { recursive: true });
await mkdir(join(out, 'model'), { recursive: true });
await writeSafetensors(join(out, 'adapter/adapter_model.safetensors'), adapter);
await writeJsonAtomic(join(out, 'adapter/adapter_config.json'), {
  peft_type: 'LORA',
  r: rank,
  lora_alpha: alpha,
  target_modules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'],
  bias: 'none',
  base_model_name_or_path: '../parity/llama/model',
});
for (const file of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json'])
  await copyFile(join(base, 'model', file), join(out, 'model', file));
await writeSafetensors(
  join(out, 'model/model.safetensors'),
  Object.fromEntries(
    [...merged].map(([name, data]) => [
      name,
      { dtype: 'F32' as const, shape: weights.get(name)!.shape, data: Float32Array.from(data) },
    ]),
  ),
);
const cases = JSON.parse(await readFile(join(base, 'cases.json'), 'utf8'));
cases.description = `${cases.description} With a LoRA (r ${rank}, alpha ${alpha}, q/k/v/o/gate/up/down) merged in float64: the goldens of the switchable adapter at loraScale 1.`;
cases.base = '../parity/llama';
cases.adapter = 'adapter';
await writeJsonAtomic(join(out, 'cases.json'), cases);
console.log(`wrote ${out}: adapter/, model/ (merged), cases.json; now run reference_forward.py on it`);
