import { formatHookPoint } from '@traitlens/core';
import type { LanguageModel } from '@traitlens/model-runtime';

/** One row to run and the positions whose residual-stream vectors are kept. */
export interface PositionRequest {
  ids: readonly number[];
  positions: readonly number[];
}

export interface ForwardPositionsOptions {
  model: LanguageModel;
  requests: readonly PositionRequest[];
  layers: readonly number[];
  batchSize: number;
  onProgress?: (done: number, total: number) => void;
}

/**
 * Runs rows in batches with resid_post captured at `layers` and hands back, per row, only the vectors
 * at the requested positions (`[position][layer index] -> Float32Array(hidden)`), so memory stays at a
 * few vectors per item whatever the sequence length or model size.
 */
export async function forwardPositions(options: ForwardPositionsOptions): Promise<Float32Array[][][]> {
  const { model, requests, batchSize } = options;
  const hidden = model.config.hiddenSize;
  const points = options.layers.map((layer) => ({ layer, site: 'resid_post' as const }));
  const results: Float32Array[][][] = [];
  for (let start = 0; start < requests.length; start += batchSize) {
    const batch = requests.slice(start, start + batchSize);
    const rows = await model.forward(
      batch.map((request) => request.ids),
      { capture: points, logits: 'none' },
    );
    rows.forEach((row, index) => {
      const request = batch[index]!;
      results.push(
        request.positions.map((position) =>
          points.map((point) => {
            const captured = row.captures.get(formatHookPoint(point))!;
            return captured.slice(position * hidden, (position + 1) * hidden);
          }),
        ),
      );
    });
    options.onProgress?.(Math.min(start + batch.length, requests.length), requests.length);
  }
  return results;
}
