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

/**
 * A colour scale for `count` categories: Vega's default 10 colours up to 10, tableau20 up to 20, beyond
 * that evenly spaced hues (golden-angle steps, alternating lightness) so 24 vectors get 24 colours.
 */
export function categoricalScale(count: number): { scheme: string } | { range: string[] } | undefined {
  if (count <= 10) return undefined;
  if (count <= 20) return { scheme: 'tableau20' };
  return {
    range: Array.from(
      { length: count },
      (_, i) =>
        `hsl(${Math.round((i * 137.508) % 360)}, ${i % 2 === 0 ? 65 : 50}%, ${i % 3 === 0 ? 38 : i % 3 === 1 ? 50 : 62}%)`,
    ),
  };
}
