import type { TopLevelSpec } from 'vega-lite';
import { plotConfig, variantColors } from './plot-theme';

export interface TrajectoryPoint {
  position: number;
  token: string;
  variant: string;
  value: number;
}

export interface TrajectorySpecOptions {
  title?: string;
  /** y axis title, e.g. `cosine with sycophancy/probe at layer 30`. */
  valueLabel?: string;
  /** Exploit spans [start, end) drawn as shaded bands. */
  spans?: readonly [number, number][];
  width?: number;
  height?: number;
}

/**
 * Per-token projection of one response in variants A and B (same tokens), one line per variant, with
 * annotated exploit spans shaded. The data set is named `points` so a page can swap it in place.
 */
export function createTrajectorySpec(
  points: readonly TrajectoryPoint[],
  options: TrajectorySpecOptions = {},
): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    config: plotConfig,
    // The title is a parameter so a page can retitle the chart when it swaps the data.
    params: [{ name: 'chartTitle', value: options.title ?? 'Per-token projection' }],
    title: { text: { expr: 'chartTitle' } },
    width: options.width ?? 640,
    height: options.height ?? 220,
    datasets: {
      points: [...points],
      spans: (options.spans ?? []).map(([start, end]) => ({ start: start - 0.5, end: end - 0.5 })),
    },
    data: { name: 'points' },
    layer: [
      {
        data: { name: 'spans' },
        mark: { type: 'rect', color: '#e45756', opacity: 0.12 },
        encoding: { x: { field: 'start', type: 'quantitative' }, x2: { field: 'end' } },
      },
      {
        mark: { type: 'line', point: { size: 18 }, strokeWidth: 1.5 },
        encoding: {
          x: { field: 'position', type: 'quantitative', title: 'response token', axis: { tickMinStep: 1 } },
          y: {
            field: 'value',
            type: 'quantitative',
            title: options.valueLabel ?? 'projection',
            scale: { zero: false },
          },
          color: { field: 'variant', type: 'nominal', title: 'variant', scale: variantColors },
          tooltip: [
            { field: 'position', type: 'quantitative', title: 'position' },
            { field: 'token', type: 'nominal', title: 'token' },
            { field: 'variant', type: 'nominal' },
            { field: 'value', type: 'quantitative', format: '.4f' },
          ],
        },
      },
    ],
  };
}
