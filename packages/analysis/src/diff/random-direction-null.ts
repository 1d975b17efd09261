import { computeQuantile } from '../stats/quantile';

/**
 * Chance level of the model diff's effect size: the same statistic computed for R random directions, per
 * layer and maximised over the searched layers, so a trait's best-layer choice is paid for in its p-value.
 */
export interface RandomDirectionNull {
  /**
   * `random-directions`: R isotropic unit directions, each response's aggregated activation projected onto
   * them (exact for linear aggregations). `random-baseline-vectors`: the bank's explicit random vectors,
   * projected like trait vectors (used with `max` aggregation or capture projection files; few draws).
   */
  source: 'random-directions' | 'random-baseline-vectors';
  directions: number;
  seed: number | null;
  /**
   * Which |statistic| the null is of: `cohensD`, the mean difference over the pooled sd of the projections
   * (d_av for paired prompts), the effect size findings are ranked by; `pairedD` (d_z) on request.
   */
  statistic: 'pairedD' | 'cohensD';
  /** Per layer: median and 95th percentile of |statistic| over the directions (the chance band). */
  perLayer: { layer: number; median: number; q95: number }[];
  /** 95th percentile of the per-direction maximum of |statistic| over all searched layers. */
  maxOverLayersQ95: number;
}

export interface RandomDirectionNullDraws {
  summary: RandomDirectionNull;
  /** |statistic| per layer position and direction: [l * R + r]. */
  absolute: Float64Array;
  /** Per direction: max over layer positions. */
  maxima: Float64Array;
}

/**
 * Per direction and layer: |Cohen's d| of B against A over `indices` (default), or |paired d| of B - A
 * over `pairedIndices` (`statistic: 'pairedD'`, at least 2 pairs). `read(variant, prompt, layerPosition,
 * direction)` returns a projection.
 */
export function computeRandomDirectionNull(options: {
  statistic?: 'pairedD' | 'cohensD';
  source: RandomDirectionNull['source'];
  directions: number;
  seed: number | null;
  layers: readonly number[];
  indices: readonly number[];
  pairedIndices: readonly number[];
  read: (variant: 'a' | 'b', prompt: number, layerPosition: number, direction: number) => number;
}): RandomDirectionNullDraws {
  const { layers, directions, read } = options;
  const paired = options.statistic === 'pairedD' && options.pairedIndices.length >= 2;
  const absolute = new Float64Array(layers.length * directions);
  const maxima = new Float64Array(directions).fill(Number.NaN);
  for (let l = 0; l < layers.length; l++) {
    for (let r = 0; r < directions; r++) {
      let value: number;
      if (paired) {
        let sum = 0;
        let squares = 0;
        const n = options.pairedIndices.length;
        for (const prompt of options.pairedIndices) {
          const difference = read('b', prompt, l, r) - read('a', prompt, l, r);
          sum += difference;
          squares += difference * difference;
        }
        const mean = sum / n;
        const sd = Math.sqrt(Math.max(0, (squares - n * mean * mean) / (n - 1)));
        value = sd > 0 ? Math.abs(mean / sd) : Number.NaN;
      } else {
        const n = options.indices.length;
        let sumA = 0;
        let sumB = 0;
        let squaresA = 0;
        let squaresB = 0;
        for (const prompt of options.indices) {
          const x = read('a', prompt, l, r);
          const y = read('b', prompt, l, r);
          sumA += x;
          sumB += y;
          squaresA += x * x;
          squaresB += y * y;
        }
        const meanA = sumA / n;
        const meanB = sumB / n;
        const pooled = Math.sqrt(
          (Math.max(0, squaresA - n * meanA * meanA) + Math.max(0, squaresB - n * meanB * meanB)) /
            (2 * (n - 1)),
        );
        value = pooled > 0 ? Math.abs((meanB - meanA) / pooled) : Number.NaN;
      }
      absolute[l * directions + r] = value;
      if (!Number.isNaN(value) && !(maxima[r]! >= value)) maxima[r] = value;
    }
  }
  const finite = (values: ArrayLike<number>) =>
    Float64Array.from(values).filter((value) => !Number.isNaN(value));
  const perLayer = layers.map((layer, l) => {
    const values = finite(absolute.subarray(l * directions, (l + 1) * directions));
    return {
      layer,
      median: values.length > 0 ? computeQuantile(values, 0.5) : Number.NaN,
      q95: values.length > 0 ? computeQuantile(values, 0.95) : Number.NaN,
    };
  });
  const finiteMaxima = finite(maxima);
  return {
    summary: {
      source: options.source,
      directions,
      seed: options.seed,
      statistic: paired ? 'pairedD' : 'cohensD',
      perLayer,
      maxOverLayersQ95: finiteMaxima.length > 0 ? computeQuantile(finiteMaxima, 0.95) : Number.NaN,
    },
    absolute,
    maxima,
  };
}
