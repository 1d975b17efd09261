import type { TopLevelSpec } from 'vega-lite';
import { categoricalScale, plotConfig } from './plot-theme';

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
    /**
     * Per panel: the chance level (dashed line) and, when given, the interval chance stays within (grey
     * band), e.g. AUROC 0.5 +- 1.96 x its null standard error.
     */
    chance?: Record<string, { value: number; low?: number; high?: number }>;
    columns?: number;
  } = {},
): TopLevelSpec {
  const panels = [...new Set(points.map((point) => point.panel))];
  const seriesCount = new Set(points.map((point) => point.series)).size;
  const colourScale = categoricalScale(seriesCount);
  const chanceRows = Object.entries(options.chance ?? {}).flatMap(([panel, chance]) => {
    const layers = points.filter((point) => point.panel === panel).map((point) => point.layer);
    if (layers.length === 0) return [];
    return [Math.min(...layers), Math.max(...layers)].map((layer) => ({
      kind: 'chance',
      panel,
      layer,
      chance: chance.value,
      low: chance.low ?? chance.value,
      high: chance.high ?? chance.value,
    }));
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    config: plotConfig,
    title: options.title ?? 'By layer',
    data: { values: [...points.map((point) => ({ kind: 'value', ...point })), ...chanceRows] },
    facet: { field: 'panel', type: 'nominal', title: null, sort: panels },
    columns: options.columns ?? Math.min(3, panels.length),
    resolve: options.independentY === false ? {} : { scale: { y: 'independent' } },
    spec: {
      width: 240,
      height: 170,
      layer: [
        {
          transform: [{ filter: "datum.kind == 'chance'" }],
          mark: { type: 'area', color: '#bbb', opacity: 0.35 },
          encoding: {
            x: { field: 'layer', type: 'quantitative' },
            y: { field: 'low', type: 'quantitative' },
            y2: { field: 'high' },
            tooltip: [
              { field: 'chance', type: 'quantitative', format: '.3f', title: 'chance' },
              { field: 'low', type: 'quantitative', format: '.3f', title: 'chance interval low' },
              { field: 'high', type: 'quantitative', format: '.3f', title: 'chance interval high' },
            ],
          },
        },
        {
          transform: [{ filter: "datum.kind == 'chance'" }],
          mark: { type: 'line', strokeDash: [4, 3], color: '#777' },
          encoding: {
            x: { field: 'layer', type: 'quantitative' },
            y: { field: 'chance', type: 'quantitative' },
          },
        },
        {
          transform: [{ filter: "datum.kind == 'value'" }],
          params: [{ name: 'pick', select: { type: 'point', fields: ['series'] }, bind: 'legend' }],
          mark: { type: 'line', point: { size: 20 } },
          encoding: {
            x: { field: 'layer', type: 'quantitative', title: 'layer', axis: { tickMinStep: 1 } },
            y: { field: 'value', type: 'quantitative', title: null, scale: { zero: false } },
            color: {
              field: 'series',
              type: 'nominal',
              title: options.seriesTitle ?? null,
              ...(colourScale ? { scale: colourScale } : {}),
            },
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
