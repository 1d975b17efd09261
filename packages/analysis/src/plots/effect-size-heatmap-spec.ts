import type { TopLevelSpec } from 'vega-lite';
import { plotConfig } from './plot-theme';

export interface EffectSizeCell {
  vectorId: string;
  layer: number;
  cohensD: number;
  p: number;
}

/** Cohen's d of B vs A per vector (rows) and layer (columns); red = B projects higher, blue = lower. */
export function createEffectSizeHeatmapSpec(
  cells: readonly EffectSizeCell[],
  options: { title?: string } = {},
): TopLevelSpec {
  const extent = Math.max(
    0.5,
    ...cells.map((cell) => (Number.isFinite(cell.cohensD) ? Math.abs(cell.cohensD) : 0)),
  );
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    config: plotConfig,
    title: options.title ?? "Cohen's d (B vs A) by vector and layer",
    data: { values: [...cells] },
    mark: { type: 'rect' },
    width: { step: 22 },
    height: { step: 18 },
    encoding: {
      x: { field: 'layer', type: 'ordinal', title: 'layer' },
      y: { field: 'vectorId', type: 'nominal', title: null, sort: null },
      color: {
        field: 'cohensD',
        type: 'quantitative',
        title: "Cohen's d",
        scale: { scheme: 'redblue', reverse: true, domain: [-extent, extent] },
      },
      tooltip: [
        { field: 'vectorId', type: 'nominal', title: 'vector' },
        { field: 'layer', type: 'ordinal' },
        { field: 'cohensD', type: 'quantitative', format: '.3f', title: 'd' },
        { field: 'p', type: 'quantitative', format: '.2e', title: 'Welch p' },
      ],
    },
  };
}
