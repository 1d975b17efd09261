import type { TopLevelSpec } from 'vega-lite';
import { plotConfig } from './plot-theme';

export interface PromptHeatmapCell {
  promptId: string;
  vectorId: string;
  layer: number;
  value: number;
}

/**
 * Trait x prompt x layer: a prompt-by-vector heatmap of per-response values (e.g. B - A) with a slider
 * that picks the layer, so the whole cube fits in one interactive chart.
 */
export function createPromptHeatmapSpec(
  cells: readonly PromptHeatmapCell[],
  layers: readonly number[],
  options: { title?: string; valueLabel?: string; initialLayer?: number } = {},
): TopLevelSpec {
  const extent = Math.max(
    1e-9,
    ...cells.map((cell) => (Number.isFinite(cell.value) ? Math.abs(cell.value) : 0)),
  );
  const sorted = [...layers].sort((a, b) => a - b);
  const step = sorted.length > 1 ? Math.min(...sorted.slice(1).map((layer, i) => layer - sorted[i]!)) : 1;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    config: plotConfig,
    // The title names the layer shown (an exported image has no slider to say it).
    title: {
      text: {
        expr: `'${(options.title ?? 'Per-prompt projection by vector').replace(/'/g, "\\'")}, layer ' + layer`,
      },
    },
    params: [
      {
        name: 'layer',
        value: options.initialLayer ?? sorted[Math.floor(sorted.length / 2)] ?? 0,
        bind: { input: 'range', min: sorted[0] ?? 0, max: sorted.at(-1) ?? 0, step, name: 'layer ' },
      },
    ],
    data: { values: [...cells] },
    transform: [{ filter: 'datum.layer == layer' }],
    mark: { type: 'rect' },
    width: { step: 14 },
    height: { step: 18 },
    encoding: {
      x: {
        field: 'promptId',
        type: 'nominal',
        title: 'prompt',
        sort: null,
        axis: { labelAngle: -60, labelLimit: 80 },
      },
      y: { field: 'vectorId', type: 'nominal', title: null, sort: null },
      color: {
        field: 'value',
        type: 'quantitative',
        title: options.valueLabel ?? 'value',
        scale: { scheme: 'redblue', reverse: true, domain: [-extent, extent] },
      },
      tooltip: [
        { field: 'promptId', type: 'nominal', title: 'prompt' },
        { field: 'vectorId', type: 'nominal', title: 'vector' },
        { field: 'layer', type: 'ordinal' },
        { field: 'value', type: 'quantitative', format: '.4f' },
      ],
    },
  };
}
