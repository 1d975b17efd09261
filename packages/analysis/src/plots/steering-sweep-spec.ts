import type { TopLevelSpec } from 'vega-lite';
import { plotConfig } from './plot-theme';

export interface SteeringSweepPoint {
  layer: number;
  coefficient: number;
  /** `trait` or `coherence`. */
  metric: string;
  value: number;
  n: number;
  /** 95% interval of the mean over questions (t-interval), when per-question scores were readable. */
  low?: number | null;
  high?: number | null;
}

/**
 * Steering sweep of one trait: trait and coherence scores (0-100) against the coefficient, one line per
 * layer, side by side, with 95% intervals over questions where known; the unsteered baseline as a dashed
 * rule in each panel and the coherence threshold as a dotted red rule.
 */
export function createSteeringSweepSpec(
  points: readonly SteeringSweepPoint[],
  baseline: { trait: number | null; coherence: number | null },
  options: {
    title?: string;
    /** Coherence below which a run does not count (dotted rule in the coherence panel). */
    coherenceThreshold?: number | null;
  } = {},
): TopLevelSpec {
  const panel = (metric: 'trait' | 'coherence') => {
    const reference = baseline[metric];
    return {
      width: 300,
      height: 220,
      title: metric === 'trait' ? 'trait score' : 'coherence',
      layer: [
        {
          data: { name: 'points' },
          transform: [{ filter: `datum.metric == '${metric}'` }],
          mark: { type: 'line' as const, point: true },
          encoding: {
            x: { field: 'coefficient', type: 'quantitative' as const, title: 'coefficient' },
            y: {
              field: 'value',
              type: 'quantitative' as const,
              title: 'judge score (0-100)',
              scale: { domain: [0, 100] },
            },
            color: { field: 'layer', type: 'ordinal' as const, title: 'layer', scale: { scheme: 'viridis' } },
            order: { field: 'coefficient', type: 'quantitative' as const },
            tooltip: [
              { field: 'layer', type: 'ordinal' as const },
              { field: 'coefficient', type: 'quantitative' as const, format: '.3f' },
              { field: 'value', type: 'quantitative' as const, format: '.1f', title: metric },
              { field: 'n', type: 'quantitative' as const },
              { field: 'low', type: 'quantitative' as const, format: '.1f', title: '95% CI low' },
              { field: 'high', type: 'quantitative' as const, format: '.1f', title: '95% CI high' },
            ],
          },
        },
        {
          data: { name: 'points' },
          transform: [{ filter: `datum.metric == '${metric}' && isValid(datum.low) && isValid(datum.high)` }],
          mark: { type: 'errorbar' as const, ticks: true },
          encoding: {
            x: { field: 'coefficient', type: 'quantitative' as const },
            y: { field: 'low', type: 'quantitative' as const, title: 'judge score (0-100)' },
            y2: { field: 'high' },
            color: { field: 'layer', type: 'ordinal' as const, title: 'layer', scale: { scheme: 'viridis' } },
          },
        },
        ...(metric === 'coherence' &&
        options.coherenceThreshold !== undefined &&
        options.coherenceThreshold !== null
          ? [
              {
                data: { values: [{ value: options.coherenceThreshold }] },
                mark: { type: 'rule' as const, strokeDash: [1, 3], strokeWidth: 2, color: '#c0392b' },
                encoding: {
                  y: { field: 'value', type: 'quantitative' as const },
                  tooltip: [{ field: 'value', type: 'quantitative' as const, title: 'coherence threshold' }],
                },
              },
            ]
          : []),
        ...(reference === null
          ? []
          : [
              {
                data: { values: [{ value: reference }] },
                mark: { type: 'rule' as const, strokeDash: [4, 3], color: '#666' },
                encoding: { y: { field: 'value', type: 'quantitative' as const } },
              },
            ]),
      ],
    };
  };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    config: plotConfig,
    title: options.title ?? 'Steering sweep (dashed: unsteered baseline)',
    datasets: { points: [...points] },
    hconcat: [panel('trait'), panel('coherence')],
  };
}
