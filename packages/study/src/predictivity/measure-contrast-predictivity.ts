import { computeAuroc, computePointBiserialCorrelation } from '@traitlens/analysis';
import { cosineSimilarity, formatHookPoint, TraitlensError, type TraitVectorSet } from '@traitlens/core';
import type { LanguageModel } from '@traitlens/model-runtime';
import type { ContrastItem } from './read-contrast-set';

/** Predictivity of one layer's vector on the contrast set. */
export interface ContrastPredictivityLayer {
  layer: number;
  /** AUROC of cos(mean answer activation, vector): answers (1) against contrastive answers (0). */
  auroc: number;
  /** Point-biserial r of the same cosines with the label. */
  pointBiserialR: number;
  pointBiserialP: number;
  /** Share of items whose answer projects above its own contrastive answer (paired accuracy). */
  pairedAccuracy: number;
}

export interface ContrastPredictivityOptions {
  model: LanguageModel;
  items: readonly ContrastItem[];
  vectors: TraitVectorSet;
  /** Layers to measure (default every layer of the vector file). */
  layers?: readonly number[];
  /** Rows per forward pass (default 8). */
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
}

/**
 * Does a trait vector predict the behaviour on free text? Each item is read twice — the question, then
 * the answer; the question, then the contrastive answer (chat template when the model has one, the answer
 * as the assistant's turn) — in one forward pass per row; the resid_post activations of the answer tokens
 * are averaged and projected (cosine) onto the layer's vector. Per layer: AUROC and point-biserial r of
 * answer (1) vs contrastive answer (0), and the paired accuracy.
 */
export async function measureContrastPredictivity(
  options: ContrastPredictivityOptions,
): Promise<ContrastPredictivityLayer[]> {
  const { model, items, vectors } = options;
  const layers = options.layers ?? [...vectors.vectors.keys()].sort((a, b) => a - b);
  for (const layer of layers)
    if (!vectors.vectors.has(layer))
      throw new TraitlensError('INVALID_ARGUMENT', `The vector file has no vector for layer ${layer}.`);
  if (vectors.metadata.hiddenSize !== model.config.hiddenSize)
    throw new TraitlensError(
      'SHAPE_MISMATCH',
      `The vectors are ${vectors.metadata.hiddenSize} wide but ${model.id} is ${model.config.hiddenSize} wide.`,
    );
  const rows: { ids: number[]; answerStart: number }[] = [];
  for (const item of items) {
    for (const answer of [item.answer, item.contrastiveAnswer]) {
      const chat = model.tokenizer.hasChatTemplate;
      const promptIds = model.encodePrompt(
        chat ? [{ role: 'user', content: item.question }] : `${item.question}\n`,
        { addGenerationPrompt: true },
      );
      const fullIds = model.encodePrompt(
        chat
          ? [
              { role: 'user', content: item.question },
              { role: 'assistant', content: answer },
            ]
          : `${item.question}\n${answer}`,
        { addGenerationPrompt: false },
      );
      // The answer tokens are those after the shared prompt prefix (templates may close the turn after them).
      let answerStart = 0;
      while (answerStart < promptIds.length && promptIds[answerStart] === fullIds[answerStart]) answerStart++;
      if (answerStart >= fullIds.length)
        throw new TraitlensError(
          'INVALID_DATASET',
          `An answer of "${item.question.slice(0, 60)}" has no tokens.`,
        );
      rows.push({ ids: fullIds, answerStart });
    }
  }
  const hidden = model.config.hiddenSize;
  const points = layers.map((layer) => ({ layer, site: 'resid_post' as const }));
  const scores = layers.map(() => new Float64Array(rows.length));
  const batchSize = options.batchSize ?? 8;
  for (let start = 0; start < rows.length; start += batchSize) {
    const batch = rows.slice(start, start + batchSize);
    const outputs = await model.forward(
      batch.map((row) => row.ids),
      { capture: points, logits: 'none' },
    );
    outputs.forEach((output, index) => {
      const row = batch[index]!;
      points.forEach((point, layerIndex) => {
        const captured = output.captures.get(formatHookPoint(point))!;
        const mean = new Float32Array(hidden);
        const count = row.ids.length - row.answerStart;
        for (let t = row.answerStart; t < row.ids.length; t++)
          for (let d = 0; d < hidden; d++) mean[d]! += captured[t * hidden + d]! / count;
        scores[layerIndex]![start + index] = cosineSimilarity(mean, vectors.vectors.get(point.layer)!);
      });
    });
    options.onProgress?.(Math.min(start + batch.length, rows.length), rows.length);
  }
  const labels = rows.map((_, index) => (index % 2 === 0 ? 1 : 0));
  return layers.map((layer, layerIndex) => {
    const values = scores[layerIndex]!;
    const correlation = computePointBiserialCorrelation(values, labels);
    let above = 0;
    for (let item = 0; item < items.length; item++) if (values[2 * item]! > values[2 * item + 1]!) above++;
    return {
      layer,
      auroc: computeAuroc(values, labels),
      pointBiserialR: correlation.r,
      pointBiserialP: correlation.p,
      pairedAccuracy: above / items.length,
    };
  });
}
