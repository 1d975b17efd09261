import { formatHookPoint, type HookSite, TraitlensError } from '@traitlens/core';
import type { LanguageModel, PromptInput } from '@traitlens/model-runtime';

export interface ResidualNormOptions {
  prompts: readonly PromptInput[];
  layers: readonly number[];
  site: HookSite;
  /** Rows per forward pass (default 16). */
  batchSize?: number | undefined;
}

/**
 * Mean L2 norm of the residual stream at `site` of each layer, over every token of the prompts, from
 * one capturing forward pass per batch. The BOS position is left out: attention-sink tokens carry
 * norms many times larger than ordinary tokens and would inflate the base coefficient.
 */
export async function measureResidualNorms(
  model: LanguageModel,
  options: ResidualNormOptions,
): Promise<Map<number, number>> {
  const { prompts, layers, site } = options;
  const batchSize = options.batchSize ?? 16;
  const hiddenSize = model.config.hiddenSize;
  const bos = model.tokenizer.bosTokenId;
  const sums = new Map(layers.map((layer) => [layer, 0]));
  let tokens = 0;
  for (let start = 0; start < prompts.length; start += batchSize) {
    const rows = await model.forward(prompts.slice(start, start + batchSize), {
      capture: layers.map((layer) => ({ layer, site })),
      logits: 'none',
    });
    for (const row of rows) {
      const first = row.tokenIds[0] === bos && row.tokenIds.length > 1 ? 1 : 0;
      tokens += row.tokenIds.length - first;
      for (const layer of layers) {
        const name = formatHookPoint({ layer, site });
        const values = row.captures.get(name);
        if (!values || values.length !== row.tokenIds.length * hiddenSize) {
          throw new TraitlensError(
            'RUNTIME_ERROR',
            `The forward pass returned no ${name} capture of shape [${row.tokenIds.length}, ${hiddenSize}].`,
          );
        }
        let sum = sums.get(layer)!;
        for (let position = first; position < row.tokenIds.length; position++) {
          let squares = 0;
          for (let index = position * hiddenSize; index < (position + 1) * hiddenSize; index++)
            squares += values[index]! * values[index]!;
          sum += Math.sqrt(squares);
        }
        sums.set(layer, sum);
      }
    }
  }
  if (tokens === 0)
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      'Cannot measure residual norms: the prompts have no tokens besides BOS.',
    );
  return new Map([...sums].map(([layer, sum]) => [layer, sum / tokens]));
}
