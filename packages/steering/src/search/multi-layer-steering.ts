import { dot, TraitlensError } from '@traitlens/core';
import { l2Norm } from '@traitlens/core/internal';

/** A layer's vector with the coefficient its own search found best. */
export interface LayerBest {
  layer: number;
  vector: Float32Array;
  coefficient: number;
}

/** The interventions of a multi-layer combination at scale 1 (the search scales every coefficient). */
export interface MultiLayerCombination {
  strategy: 'weighted' | 'orthogonal';
  layers: { layer: number; vector: Float32Array; coefficient: number }[];
  /** Layers left out because their vector was (almost) parallel to earlier ones (orthogonal only). */
  droppedLayers: number[];
}

/**
 * Combines per-layer results into one multi-layer steering configuration. Every layer keeps the
 * coefficient its own search found best, and the whole combination is then scaled by one factor:
 *
 * - `weighted`: the original vectors, each weighted by its layer's best coefficient.
 * - `orthogonal`: Gram-Schmidt in the given order (put the strongest layer first), each vector rescaled
 *   to its original norm, so layers that would push the residual stream along the same direction add
 *   only their new component instead of stacking the shared one.
 *
 * The residual stream is shared across layers, which is why directions at different layers can
 * overlap and why orthogonalising is meaningful.
 */
export function combineLayerSteering(
  bests: readonly LayerBest[],
  strategy: 'weighted' | 'orthogonal',
): MultiLayerCombination {
  if (bests.length < 2) {
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      `Multi-layer steering needs at least two layers with a coherent best coefficient; got ${bests.length}.`,
    );
  }
  if (strategy === 'weighted') {
    return {
      strategy,
      layers: bests.map(({ layer, vector, coefficient }) => ({ layer, vector, coefficient })),
      droppedLayers: [],
    };
  }
  const basis: Float64Array[] = [];
  const layers: MultiLayerCombination['layers'] = [];
  const droppedLayers: number[] = [];
  for (const { layer, vector, coefficient } of bests) {
    const residual = Float64Array.from(vector);
    for (const unit of basis) {
      const projection = dot(residual, unit);
      for (let index = 0; index < residual.length; index++) residual[index]! -= projection * unit[index]!;
    }
    const originalNorm = l2Norm(vector);
    const residualNorm = l2Norm(residual);
    if (originalNorm === 0 || residualNorm < 1e-6 * originalNorm) {
      droppedLayers.push(layer);
      continue;
    }
    basis.push(residual.map((value) => value / residualNorm));
    layers.push({
      layer,
      vector: Float32Array.from(residual, (value) => (value / residualNorm) * originalNorm),
      coefficient,
    });
  }
  return { strategy, layers, droppedLayers };
}
