import { cosineSimilarity } from '@traitlens/core';
import type { LanguageModel } from '@traitlens/model-runtime';
import type { PreparedAbItem } from './build-ab-sequences';
import { forwardPositions } from './forward-positions';

/** Where an activation is read: after the prompt (where the model decides) or on the answer it chose. */
export type ActivationPosition = 'prompt' | 'continuation';

/** A vector measured per layer (only the layers it has). */
export type LayerVectors = ReadonlyMap<number, Float32Array>;

/** What the model did on held-out A/B items and how its activations line up with each vector. */
export interface AbChoiceMeasurement {
  /** File positions of the items. */
  items: number[];
  /** 1 when the model prefers the behaviour answer letter, else 0. */
  labels: number[];
  /** log p(behaviour letter) - log p(other letter) at the answer position. */
  margins: number[];
  /** vector name -> position -> layer -> per-item cosine(activation, vector). */
  cosines: Map<string, Record<ActivationPosition, Map<number, number[]>>>;
}

export interface MeasureAbChoicesOptions {
  model: LanguageModel;
  items: readonly PreparedAbItem[];
  vectors: ReadonlyMap<string, LayerVectors>;
  layers: readonly number[];
  batchSize: number;
  onProgress?: (done: number, total: number) => void;
}

/**
 * For each held-out item: the model's choice by `score` (next-token log-probabilities of the two answer
 * letters after the prompt and the answer opener), then one forward pass over the prompt plus the chosen
 * answer, reading the residual stream at the last shared position ("prompt": before the model commits)
 * and at the chosen letter ("continuation": after it answered).
 */
export async function measureAbChoices(options: MeasureAbChoicesOptions): Promise<AbChoiceMeasurement> {
  const { model, items, vectors, layers, batchSize } = options;
  const labels: number[] = [];
  const margins: number[] = [];
  for (let start = 0; start < items.length; start += batchSize) {
    const batch = items.slice(start, start + batchSize);
    const scores = await model.score(
      batch.map(({ sequences }) => sequences.behaviour.slice(0, sequences.letterPosition)),
    );
    batch.forEach(({ sequences }, index) => {
      const logprobs = scores[index]!;
      const margin = logprobs[sequences.behaviourToken]! - logprobs[sequences.otherToken]!;
      margins.push(margin);
      labels.push(margin > 0 ? 1 : 0);
    });
    // Scoring is about a third of the work; the forward passes below the rest.
    options.onProgress?.(Math.min(start + batch.length, items.length), items.length * 3);
  }
  const captured = await forwardPositions({
    model,
    requests: items.map(({ sequences }, index) => ({
      ids: labels[index] === 1 ? sequences.behaviour : sequences.other,
      positions: [sequences.letterPosition - 1, sequences.letterPosition],
    })),
    layers,
    batchSize,
    onProgress: (done) => options.onProgress?.(items.length + 2 * done, items.length * 3),
  });
  const cosines: AbChoiceMeasurement['cosines'] = new Map();
  for (const [name, vector] of vectors) {
    const byPosition = { prompt: new Map<number, number[]>(), continuation: new Map<number, number[]>() };
    layers.forEach((layer, l) => {
      const direction = vector.get(layer);
      if (!direction) return;
      byPosition.prompt.set(
        layer,
        captured.map(([prompt]) => cosineSimilarity(prompt![l]!, direction)),
      );
      byPosition.continuation.set(
        layer,
        captured.map(([, continuation]) => cosineSimilarity(continuation![l]!, direction)),
      );
    });
    cosines.set(name, byPosition);
  }
  return { items: items.map(({ item }) => item.index), labels, margins, cosines };
}
