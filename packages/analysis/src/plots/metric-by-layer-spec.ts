import type { TopLevelSpec } from 'vega-lite';
import { plotConfig } from './plot-theme';

export interface MetricByLayerPoint {
  layer: number;
  /** The line: a method, a vector, or a classifier. */
  series: string;
  /** The panel: a metric name or a data split. */
  panel: string;
  value: number;
}

/**
 * Metrics by layer, one line per series, one panel per metric: extraction metrics by layer and method
 * (evaluation.json), detection AUROC of trait vs random features, predictivity in vs out of distribution.
 */
export function createMetricByLayerSpec(
  points: readonly MetricByLayerPoint[],
  options: {
    title?: string;
    seriesTitle?: string;
    independentY?: boolean;
    referenceLine?: number;
    columns?: number;
  } = {},
): TopLevelSpec {
  const panels = [...new Set(points.map((point) => point.panel))];
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    config: plotConfig,
    title: options.title ?? 'By layer',
    data: { values: [...points] },
    facet: { field: 'panel', type: 'nominal', title: null, sort: panels },
    columns: options.columns ?? Math.min(3, panels.length),
    resolve: options.independentY === false ? {} : { scale: { y: 'independent' } },
    spec: {
      width: 240,
      height: 170,
      layer: [
        {
          params: [{ name: 'pick', select: { type: 'point', fields: ['series'] }, bind: 'legend' }],
          mark: { type: 'line', point: { size: 20 } },
          encoding: {
            x: { field: 'layer', type: 'quantitative', title: 'layer', axis: { tickMinStep: 1 } },
            y: { field: 'value', type: 'quantitative', title: null, scale: { zero: false } },
            color: { field: 'series', type: 'nominal', title: options.seriesTitle ?? null },
            opacity: { condition: { param: 'pick', value: 1 }, value: 0.15 },
            tooltip: [
              { field: 'series', type: 'nominal' },
              { field: 'panel', type: 'nominal' },
              { field: 'layer', type: 'quantitative' },
              { field: 'value', type: 'quantitative', format: '.4f' },
            ],
          },
        },
        ...(options.referenceLine === undefined
          ? []
          : [
              {
                mark: { type: 'rule' as const, strokeDash: [4, 3], color: '#999' },
                encoding: { y: { datum: options.referenceLine } },
              },
            ]),
      ],
    },
  };
}
