import type { LanguageModel, SteeringSpec } from '@traitlens/model-runtime';
import { logSoftmax } from '@traitlens/model-runtime/internal';
import type { PreparedAbItem } from './build-ab-sequences';

/** The behaviour-choice rate with the vector's direction removed at some layers. */
export interface AblationResult {
  /** The layers ablated together (one layer, or every layer). */
  layers: number[];
  /** Share of items where the model prefers the behaviour letter. */
  rate: number;
  /** rate - the unablated rate. */
  change: number;
  /** Items whose choice changed, each way. */
  toBehaviour: number;
  fromBehaviour: number;
  /** Mean change of log p(behaviour) - log p(other). */
  meanMarginChange: number;
}

export interface AblationSummary {
  set: string;
  items: number;
  /** The unablated rate through the same forward path. */
  baselineRate: number;
  /** Whether that path agrees with the `score` labels on every item (a check of the two code paths). */
  baselineAgreesWithScore: boolean;
  results: AblationResult[];
}

async function chooseAll(
  model: LanguageModel,
  items: readonly PreparedAbItem[],
  steer: readonly SteeringSpec[],
  batchSize: number,
): Promise<number[]> {
  const margins: number[] = [];
  for (let start = 0; start < items.length; start += batchSize) {
    const batch = items.slice(start, start + batchSize);
    const rows = await model.forward(
      batch.map(({ sequences }) => sequences.behaviour.slice(0, sequences.letterPosition)),
      { logits: 'last', ...(steer.length > 0 ? { steer } : {}) },
    );
    rows.forEach((row, index) => {
      const { sequences } = batch[index]!;
      const logprobs = logSoftmax(row.logits);
      margins.push(logprobs[sequences.behaviourToken]! - logprobs[sequences.otherToken]!);
    });
  }
  return margins;
}

export interface MeasureDirectionalAblationOptions {
  model: LanguageModel;
  set: string;
  items: readonly PreparedAbItem[];
  /** The vector per layer. */
  vectors: ReadonlyMap<number, Float32Array>;
  /** Layer groups ablated together: each layer alone, then all of them. */
  layerGroups: readonly (readonly number[])[];
  /** The labels `score` gave (1 = behaviour letter preferred). */
  scoreLabels: readonly number[];
  batchSize: number;
  onProgress?: (done: number, total: number) => void;
}

/**
 * Directional ablation (h - (h.u)u at every position of resid_post) of the vector at each layer group:
 * if the direction carries the behaviour choice, removing it should lower the rate; if the model only
 * reads it elsewhere, little changes.
 */
export async function measureDirectionalAblation(
  options: MeasureDirectionalAblationOptions,
): Promise<AblationSummary> {
  const { model, items, vectors, layerGroups, scoreLabels, batchSize } = options;
  const baseline = await chooseAll(model, items, [], batchSize);
  options.onProgress?.(1, layerGroups.length + 1);
  const baselineLabels = baseline.map((margin) => (margin > 0 ? 1 : 0));
  const rateOf = (labels: readonly number[]) => labels.reduce((sum, label) => sum + label, 0) / labels.length;
  const baselineRate = rateOf(baselineLabels);
  const results: AblationResult[] = [];
  for (const [index, layers] of layerGroups.entries()) {
    const steer: SteeringSpec[] = layers.map((layer) => ({
      point: { layer, site: 'resid_post' },
      vector: vectors.get(layer)!,
      mode: 'ablate',
      coefficient: 1,
      positions: 'all',
    }));
    const margins = await chooseAll(model, items, steer, batchSize);
    const labels = margins.map((margin) => (margin > 0 ? 1 : 0));
    results.push({
      layers: [...layers],
      rate: rateOf(labels),
      change: rateOf(labels) - baselineRate,
      toBehaviour: labels.filter((label, i) => label === 1 && baselineLabels[i] === 0).length,
      fromBehaviour: labels.filter((label, i) => label === 0 && baselineLabels[i] === 1).length,
      meanMarginChange: margins.reduce((sum, margin, i) => sum + margin - baseline[i]!, 0) / margins.length,
    });
    options.onProgress?.(index + 2, layerGroups.length + 1);
  }
  return {
    set: options.set,
    items: items.length,
    baselineRate,
    baselineAgreesWithScore: baselineLabels.every((label, i) => label === scoreLabels[i]),
    results,
  };
}
