import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { listActivationFiles } from '@traitlens/analysis';
import {
  type ActivationPart,
  parseHookPoint,
  readActivationFile,
  TraitlensError,
  type TraitVectorSet,
  writeTraitVectors,
} from '@traitlens/core';

export interface ModelDiffVectorsOptions {
  /** The experiment folder holding `inference/<variant>/<prompt set>/activations`. */
  experiment: string;
  /** The reference variant (e.g. the base / clean model). */
  baseVariant: string;
  /** The changed variant (e.g. the fine-tuned or LoRA model) that read the same token ids. */
  changedVariant: string;
  promptSets: readonly string[];
  /** Which tokens are averaged (default response). */
  part?: ActivationPart;
  /** Where the vector file goes (default `<experiment>/model-diff/<changed>-minus-<base>/vectors/mean_diff.safetensors`). */
  file?: string;
}

export interface ModelDiffVectorsResult {
  file: string;
  /** Prompts both variants have. */
  prompts: number;
  layers: number[];
  /** Layers where the two variants do not differ at all (no vector is written for them). */
  identicalLayers: number[];
}

/** Where model-diff vectors of two variants go by default. */
export function modelDiffVectorsPath(
  experiment: string,
  changedVariant: string,
  baseVariant: string,
): string {
  return join(
    experiment,
    'model-diff',
    `${changedVariant}-minus-${baseVariant}`,
    'vectors',
    'mean_diff.safetensors',
  );
}

/**
 * A trait vector from a model diff: for every prompt both variants read (the same token ids, as replay
 * stores them), the mean over the chosen tokens of changed minus base activations, then the mean over
 * prompts — per layer, at raw scale. Written as an ordinary vector file (`method: mean_diff`,
 * `normalisation: raw`), so steering, projection and GGUF export take it like any extracted vector.
 * Accumulates in float64; holds one prompt's activations at a time.
 */
export async function writeModelDiffVectors(
  options: ModelDiffVectorsOptions,
): Promise<ModelDiffVectorsResult> {
  const part = options.part ?? 'response';
  const sums = new Map<number, Float64Array>();
  let prompts = 0;
  let hiddenSize = 0;
  let model = '';
  for (const promptSet of options.promptSets) {
    const base = await listActivationFiles(options.experiment, options.baseVariant, promptSet);
    const changed = await listActivationFiles(options.experiment, options.changedVariant, promptSet);
    for (const [promptId, changedFile] of changed) {
      const baseFile = base.get(promptId);
      if (!baseFile) continue;
      const [a, b] = await Promise.all([readActivationFile(baseFile), readActivationFile(changedFile)]);
      const sameIds =
        a.promptTokenIds.length === b.promptTokenIds.length &&
        a.responseTokenIds.length === b.responseTokenIds.length &&
        a.promptTokenIds.every((id, i) => id === b.promptTokenIds[i]) &&
        a.responseTokenIds.every((id, i) => id === b.responseTokenIds[i]);
      if (!sameIds)
        throw new TraitlensError(
          'TOKEN_MISMATCH',
          `${changedFile} and ${baseFile} hold different token ids for prompt "${promptId}"; a model diff needs both variants on the same tokens (replay one onto the other).`,
          { details: { promptId } },
        );
      hiddenSize = b.hiddenSize;
      model = b.model;
      const tokens = part === 'prompt' ? b.promptTokenIds.length : b.responseTokenIds.length;
      if (tokens === 0) continue;
      let used = false;
      for (const [name, changedValues] of b.activations) {
        if (!name.startsWith(`${part}.resid_post.`)) continue;
        const baseValues = a.activations.get(name);
        if (!baseValues) continue;
        const { layer } = parseHookPoint(name.slice(part.length + 1));
        const sum = sums.get(layer) ?? new Float64Array(hiddenSize);
        sums.set(layer, sum);
        for (let t = 0; t < tokens; t++)
          for (let d = 0; d < hiddenSize; d++)
            sum[d]! += (changedValues[t * hiddenSize + d]! - baseValues[t * hiddenSize + d]!) / tokens;
        used = true;
      }
      if (used) prompts++;
    }
  }
  if (prompts === 0)
    throw new TraitlensError(
      'INVALID_EXPERIMENT',
      `No prompt has ${part} resid_post activations of both "${options.changedVariant}" and "${options.baseVariant}" in ${options.experiment} (prompt sets ${options.promptSets.join(', ')}); capture one variant and replay it onto the other first.`,
      { details: { experiment: options.experiment } },
    );
  const vectors = new Map<number, Float32Array>();
  const identicalLayers: number[] = [];
  for (const [layer, sum] of [...sums].sort((x, y) => x[0] - y[0])) {
    const vector = Float32Array.from(sum, (value) => value / prompts);
    // On identical tokens, layers before the first changed weight do not differ: no direction exists.
    if (vector.every((value) => value === 0)) identicalLayers.push(layer);
    else vectors.set(layer, vector);
  }
  const file =
    options.file ?? modelDiffVectorsPath(options.experiment, options.changedVariant, options.baseVariant);
  if (vectors.size > 0) {
    const set: TraitVectorSet = {
      metadata: {
        trait: `model-diff/${options.changedVariant}-minus-${options.baseVariant}`,
        method: 'mean_diff',
        model,
        site: 'resid_post',
        tokenWindow: part === 'response' ? 'response[:]' : 'prompt[:]',
        normalisation: 'raw',
        hiddenSize,
        extra: {
          model_diff_base_variant: options.baseVariant,
          model_diff_changed_variant: options.changedVariant,
          model_diff_prompts: String(prompts),
          model_diff_prompt_sets: options.promptSets.join(','),
        },
      },
      vectors,
    };
    await mkdir(dirname(file), { recursive: true });
    await writeTraitVectors(file, set);
  }
  return { file, prompts, layers: [...vectors.keys()], identicalLayers };
}
