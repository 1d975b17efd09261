import type { TopLevelSpec } from 'vega-lite';
import { plotConfig } from './plot-theme';

export interface SteeringSweepPoint {
  layer: number;
  coefficient: number;
  /** `trait` or `coherence`. */
  metric: string;
  value: number;
  n: number;
}

/**
 * Steering sweep of one trait: trait and coherence scores (0-100) against the coefficient, one line per
 * layer, side by side; the unsteered baseline as a dashed rule in each panel.
 */
export function createSteeringSweepSpec(
  points: readonly SteeringSweepPoint[],
  baseline: { trait: number | null; coherence: number | null },
  options: { title?: string } = {},
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
            ],
          },
        },
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
