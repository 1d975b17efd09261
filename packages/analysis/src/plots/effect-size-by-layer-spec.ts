import type { TopLevelSpec } from 'vega-lite';
import { categoricalScale, plotConfig } from './plot-theme';

export interface EffectSizeByLayerPoint {
  vectorId: string;
  layer: number;
  subset: string;
  cohensD: number;
  low: number;
  high: number;
}

/**
 * Cohen's d by layer, one line per vector, dashed per subset (e.g. train biases vs held-out biases), with
 * bootstrap intervals as bands; click a legend entry to highlight one vector.
 */
export function createEffectSizeByLayerSpec(
  points: readonly EffectSizeByLayerPoint[],
  options: {
    title?: string;
    /** Per layer: the |d| chance stays within (the random null's 95th percentile), drawn as a grey band. */
    chanceBand?: readonly { layer: number; maxAbsD: number }[];
    /** Tooltip name of the band (default "random 95% |d|"). */
    chanceLabel?: string;
  } = {},
): TopLevelSpec {
  const colourScale = categoricalScale(new Set(points.map((point) => point.vectorId)).size);
  const chance = (options.chanceBand ?? []).map((row) => ({
    layer: row.layer,
    low: -row.maxAbsD,
    high: row.maxAbsD,
  }));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    config: plotConfig,
    title: options.title ?? "Cohen's d (B vs A) by layer",
    width: 560,
    height: 280,
    datasets: { points: [...points], chance },
    data: { name: 'points' },
    layer: [
      {
        data: { name: 'chance' },
        mark: { type: 'area', color: '#bbb', opacity: 0.3 },
        encoding: {
          x: { field: 'layer', type: 'quantitative' },
          y: { field: 'low', type: 'quantitative' },
          y2: { field: 'high' },
          tooltip: [
            { field: 'layer', type: 'quantitative' },
            {
              field: 'high',
              type: 'quantitative',
              format: '.3f',
              title: options.chanceLabel ?? 'random 95% |d|',
            },
          ],
        },
      },
      {
        mark: { type: 'errorband', opacity: 0.15 },
        encoding: {
          x: { field: 'layer', type: 'quantitative' },
          y: { field: 'low', type: 'quantitative', title: "Cohen's d" },
          y2: { field: 'high' },
          color: {
            field: 'vectorId',
            type: 'nominal',
            title: 'vector',
            ...(colourScale ? { scale: colourScale } : {}),
          },
          detail: { field: 'subset', type: 'nominal' },
        },
      },
      {
        params: [{ name: 'highlight', select: { type: 'point', fields: ['vectorId'] }, bind: 'legend' }],
        mark: { type: 'line', point: true },
        encoding: {
          x: { field: 'layer', type: 'quantitative', title: 'layer', axis: { tickMinStep: 1 } },
          y: { field: 'cohensD', type: 'quantitative', title: "Cohen's d" },
          color: {
            field: 'vectorId',
            type: 'nominal',
            title: 'vector',
            ...(colourScale ? { scale: colourScale } : {}),
          },
          strokeDash: { field: 'subset', type: 'nominal', title: 'prompts' },
          opacity: { condition: { param: 'highlight', value: 1 }, value: 0.15 },
          tooltip: [
            { field: 'vectorId', type: 'nominal', title: 'vector' },
            { field: 'subset', type: 'nominal', title: 'prompts' },
            { field: 'layer', type: 'quantitative' },
            { field: 'cohensD', type: 'quantitative', format: '.3f', title: 'd' },
            { field: 'low', type: 'quantitative', format: '.3f', title: 'CI low' },
            { field: 'high', type: 'quantitative', format: '.3f', title: 'CI high' },
          ],
        },
      },
    ],
  };
}
