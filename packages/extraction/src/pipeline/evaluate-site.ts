import { evaluateLayer, type LayerVector } from '../evaluation/evaluate-layer';
import { scoreSiteEvaluation } from '../evaluation/score-site-evaluation';
import type { LayerEvaluation, SiteEvaluation } from '../evaluation/trait-evaluation';
import { selectLayerSplit } from './extract-vector-files';
import type { TraitPolarity } from './extraction-progress';
import type { ClassSplit } from './split-train-validation';
import type { WindowActivations } from './window-activations';

export interface EvaluateSiteOptions {
  activations: WindowActivations;
  split: Readonly<Record<TraitPolarity, ClassSplit>>;
  /** method id -> layer -> vector. */
  vectors: ReadonlyMap<string, ReadonlyMap<number, LayerVector>>;
  onLayer?: (completed: number, total: number) => void;
}

/** Evaluates every method at every layer of one site on the validation rows. */
export function evaluateSite({ activations, split, vectors, onLayer }: EvaluateSiteOptions): SiteEvaluation {
  const layers: Record<string, LayerEvaluation> = {};
  activations.layers.forEach((layer, index) => {
    const atLayer = new Map<string, LayerVector>();
    for (const [method, byLayer] of vectors) {
      const vector = byLayer.get(layer);
      if (vector) atLayer.set(method, vector);
    }
    layers[String(layer)] = evaluateLayer(selectLayerSplit(activations, split, layer), atLayer);
    onLayer?.(index + 1, activations.layers.length);
  });
  return scoreSiteEvaluation(layers);
}
