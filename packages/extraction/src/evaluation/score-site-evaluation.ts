import type { BestVector, LayerEvaluation, SiteEvaluation } from './trait-evaluation';

/**
 * Fills in every vector's combined score — (validation accuracy + |d| / max |d|) / 2, zero when the
 * polarity is wrong, as the study ranked vectors — and picks the best (method, layer) of the site.
 * random_baseline is scored but never chosen as best: it is the floor, not a candidate.
 */
export function scoreSiteEvaluation(layers: Record<string, LayerEvaluation>): SiteEvaluation {
  let largestEffect = 0;
  for (const layer of Object.values(layers)) {
    for (const method of Object.values(layer.methods))
      largestEffect = Math.max(largestEffect, Math.abs(method.validation.cohensD ?? 0));
  }
  let best: BestVector | null = null;
  for (const [layerKey, layer] of Object.entries(layers)) {
    for (const [id, method] of Object.entries(layer.methods)) {
      const normalisedEffect =
        largestEffect > 0 ? Math.abs(method.validation.cohensD ?? 0) / largestEffect : 0;
      method.combinedScore = method.validation.polarityCorrect
        ? (method.validation.accuracy + normalisedEffect) / 2
        : 0;
      if (id === 'random_baseline') continue;
      if (!best || method.combinedScore > best.combinedScore) {
        best = {
          method: id,
          layer: Number(layerKey),
          combinedScore: method.combinedScore,
          validationAccuracy: method.validation.accuracy,
          cohensD: method.validation.cohensD,
          auroc: method.validation.auroc,
        };
      }
    }
  }
  return { layers, best };
}
