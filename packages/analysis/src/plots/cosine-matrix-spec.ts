import type { TopLevelSpec } from 'vega-lite';
import { plotConfig } from './plot-theme';

export interface CosineCell {
  layer: number;
  row: string;
  column: string;
  cosine: number;
}

/** Cosine between vectors built in different ways, one matrix per layer (slider). */
export function createCosineMatrixSpec(
  cells: readonly CosineCell[],
  layers: readonly number[],
  options: { title?: string } = {},
): TopLevelSpec {
  const sorted = [...layers].sort((a, b) => a - b);
  const step = sorted.length > 1 ? Math.min(...sorted.slice(1).map((layer, i) => layer - sorted[i]!)) : 1;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    config: plotConfig,
    // The title names the layer shown (an exported image has no slider to say it).
    title: {
      text: { expr: `'${(options.title ?? 'Cosine between vectors').replace(/'/g, "\\'")}, layer ' + layer` },
    },
    params: [
      {
        name: 'layer',
        value: sorted[Math.floor(sorted.length / 2)] ?? 0,
        bind: { input: 'range', min: sorted[0] ?? 0, max: sorted.at(-1) ?? 0, step, name: 'layer ' },
      },
    ],
    data: { values: [...cells] },
    transform: [{ filter: 'datum.layer == layer' }],
    width: { step: 26 },
    height: { step: 22 },
    layer: [
      {
        mark: 'rect',
        encoding: {
          x: { field: 'column', type: 'nominal', title: null, sort: null, axis: { labelAngle: -45 } },
          y: { field: 'row', type: 'nominal', title: null, sort: null },
          color: {
            field: 'cosine',
            type: 'quantitative',
            scale: { scheme: 'redblue', reverse: true, domain: [-1, 1] },
          },
          tooltip: [
            { field: 'row', type: 'nominal' },
            { field: 'column', type: 'nominal' },
            { field: 'cosine', type: 'quantitative', format: '.3f' },
          ],
        },
      },
      {
        mark: { type: 'text', fontSize: 9 },
        encoding: {
          x: { field: 'column', type: 'nominal', sort: null },
          y: { field: 'row', type: 'nominal', sort: null },
          text: { field: 'cosine', type: 'quantitative', format: '.2f' },
          color: { condition: { test: 'abs(datum.cosine) > 0.6', value: 'white' }, value: 'black' },
        },
      },
    ],
  };
}
