import { cosineSimilarity } from '@traitlens/core';
import type { LanguageModel } from '@traitlens/model-runtime';
import type { AbItem } from './ab-dataset';
import type { AbSequences } from './ab-sequences';
import type { CaaVectors, CaaVectorVariant } from './caa-vectors';
import { forwardPositions } from './forward-positions';

/** Where an activation is read: after the prompt (the position that predicts the answer) or on the answer the model chose. */
export type ActivationPosition = 'prompt' | 'continuation';

/** What the model did on held-out items and how its activations line up with each vector. */
export interface HeldOutMeasurement {
  /** File positions of the items. */
  items: number[];
  /** 1 when the model prefers the sycophantic (behaviour) answer letter, else 0. */
  labels: number[];
  /** log p(behaviour letter) - log p(other letter) at the answer position. */
  margins: number[];
  /** variant -> position -> [layer index][item] cosine(activation, vector). */
  cosines: Map<CaaVectorVariant, Record<ActivationPosition, number[][]>>;
}

/**
 * For each held-out item: the model's choice by `score` (next-token log-probabilities of the two answer
 * letters after the prompt and the answer opener), then one forward pass over the prompt plus the chosen
 * answer, reading the residual stream at the last shared position ("prompt": before the model commits)
 * and at the chosen letter ("continuation": after it answered).
 */
export async function measureHeldOut(
  model: LanguageModel,
  items: readonly { item: AbItem; sequences: AbSequences }[],
  vectors: CaaVectors,
  layers: readonly number[],
  batchSize: number,
  onProgress?: (done: number, total: number) => void,
): Promise<HeldOutMeasurement> {
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
  }
  const captured = await forwardPositions(
    model,
    items.map(({ sequences }, index) => ({
      ids: labels[index] === 1 ? sequences.behaviour : sequences.other,
      positions: [sequences.letterPosition - 1, sequences.letterPosition],
    })),
    layers,
    batchSize,
    onProgress,
  );
  const cosines: HeldOutMeasurement['cosines'] = new Map();
  for (const [variant, vector] of vectors) {
    const byPosition = { prompt: [] as number[][], continuation: [] as number[][] };
    layers.forEach((layer, l) => {
      const direction = vector.layers.get(layer)!;
      byPosition.prompt.push(captured.map(([prompt]) => cosineSimilarity(prompt![l]!, direction)));
      byPosition.continuation.push(
        captured.map(([, continuation]) => cosineSimilarity(continuation![l]!, direction)),
      );
    });
    cosines.set(variant, byPosition);
  }
  return { items: items.map(({ item }) => item.index), labels, margins, cosines };
}
