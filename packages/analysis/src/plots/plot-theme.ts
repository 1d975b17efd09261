import type { Config } from 'vega-lite';

/** Shared look of every traitlens chart; fonts that exist on Debian and in browsers alike. */
export const plotConfig: Config = {
  font: 'Liberation Sans, DejaVu Sans, Helvetica, Arial, sans-serif',
  background: 'white',
  view: { stroke: '#ddd' },
  axis: { labelFontSize: 11, titleFontSize: 12, gridColor: '#eee' },
  legend: { labelFontSize: 11, titleFontSize: 12, labelLimit: 240 },
  title: { fontSize: 14, anchor: 'start' },
};

/** Categorical colours for variants: A (reference) grey-blue, B (the model under audit) orange. */
export const variantColors = { range: ['#4c78a8', '#f58518'] };
