import { Resvg } from '@resvg/resvg-js';
import { TraitlensError } from '@traitlens/core';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/** Compiles a Vega-Lite spec to a Vega spec (what the report's inlined Vega runtime renders). */
export function compileVegaLite(spec: TopLevelSpec): vega.Spec {
  try {
    return compile(spec).spec;
  } catch (cause) {
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      `A chart spec does not compile with Vega-Lite: ${(cause as Error).message}`,
      { cause },
    );
  }
}

/** Renders a Vega-Lite spec to an SVG string in Node (no browser, no canvas). */
export async function renderPlotSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compileVegaLite(spec)), { renderer: 'none' });
  try {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: XML forbids them; byte-level token labels carry them.
    return (await view.toSVG()).replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '\uFFFD');
  } finally {
    view.finalize();
  }
}

/** Rasterises an SVG to PNG with resvg (system fonts; `scale` 2 for print). */
export function renderSvgToPng(svg: string, scale = 2): Uint8Array {
  const resvg = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: scale },
    font: { loadSystemFonts: true, defaultFontFamily: 'Liberation Sans' },
    background: 'white',
  });
  return resvg.render().asPng();
}

/** SVG and PNG of one chart. */
export async function renderPlot(
  spec: TopLevelSpec,
  options: { scale?: number } = {},
): Promise<{ svg: string; png: Uint8Array }> {
  const svg = await renderPlotSvg(spec);
  return { svg, png: renderSvgToPng(svg, options.scale ?? 2) };
}
