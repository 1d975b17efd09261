import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import {
  experimentLayout,
  removeStaleTemporaryFiles,
  TraitlensError,
  writeFileAtomic,
} from '@traitlens/core';
import type * as vega from 'vega';
import { compileVegaLite, renderPlotSvg, renderSvgToPng } from '../plots/render-plot';
import { buildReportCharts } from './build-report-charts';
import { readReportInputs } from './read-report-inputs';
import { renderReportHtml } from './render-report-html';

export interface WriteReportOptions {
  experiment: string;
  /** Where the analysis JSON lives (default `<experiment>/analysis`). */
  analysisDirectory?: string | undefined;
  /** Where to write (default `<experiment>/report`): index.html and plots/<chart>.svg|png. */
  outputDirectory?: string | undefined;
  /** Also write every chart as SVG and PNG next to the report (default true). */
  images?: boolean | undefined;
  /** Prompts shown in the trait x prompt x layer heatmap (default 60). */
  maximumHeatmapPrompts?: number | undefined;
  /**
   * Called after each chart is compiled (`charts`) and after each chart's SVG and PNG are written
   * (`images`).
   */
  onProgress?: ((step: 'charts' | 'images', done: number, total: number) => void) | undefined;
}

export interface WrittenReport {
  htmlPath: string;
  charts: string[];
  images: string[];
  bytes: number;
}

const require = createRequire(import.meta.url);

/** The minified Vega runtime shipped in the `vega` package, inlined so the report needs no network. */
async function readVegaRuntime(): Promise<string> {
  let entry: string;
  try {
    entry = require.resolve('vega');
  } catch (cause) {
    throw new TraitlensError(
      'FILE_NOT_FOUND',
      'The vega package is not installed next to @traitlens/analysis; reinstall dependencies (pnpm install).',
      { cause },
    );
  }
  const path = join(dirname(entry), 'vega.min.js');
  try {
    return await readFile(path, 'utf8');
  } catch (cause) {
    throw new TraitlensError(
      'FILE_NOT_FOUND',
      `${path} is missing from the vega package; reinstall dependencies (pnpm install).`,
      { cause, details: { file: path } },
    );
  }
}

function readPackageVersion(): string | undefined {
  try {
    return (require('@traitlens/analysis/package.json') as { version?: string }).version;
  } catch {
    return undefined;
  }
}

/**
 * Writes the experiment's HTML report (self-contained: Vega runtime, data and script inlined; works from
 * file:// without network) and, by default, every chart as SVG and PNG under `plots/`.
 */
export async function writeReport(options: WriteReportOptions): Promise<WrittenReport> {
  const inputs = await readReportInputs(options.experiment, options.analysisDirectory);
  const output = options.outputDirectory ?? experimentLayout(options.experiment).report;
  const vegaRuntime = await readVegaRuntime();
  const version = readPackageVersion();
  let charts: ReturnType<typeof buildReportCharts>;
  let html: string;
  try {
    charts = buildReportCharts(inputs, { maximumHeatmapPrompts: options.maximumHeatmapPrompts });
    const compiled: Record<string, vega.Spec> = {};
    for (const [index, chart] of charts.entries()) {
      compiled[chart.id] = compileVegaLite(chart.spec);
      options.onProgress?.('charts', index + 1, charts.length);
    }
    html = renderReportHtml({ inputs, charts, compiled, vegaRuntime, version });
  } catch (error) {
    // The input files are read as they are; one edited by hand or written by another version can lack a
    // field or hold the wrong type, which surfaces here as a TypeError, not as a bug of the report.
    if (!(error instanceof TypeError || error instanceof RangeError)) throw error;
    const analysis = options.analysisDirectory ?? experimentLayout(options.experiment).analysis;
    throw new TraitlensError(
      'INVALID_EXPERIMENT',
      `The files the report reads (${analysis}/*.json, steering/*/results.json, extraction/*/*/evaluation.json) do not have the shape this traitlens version writes (${error.message}). Were they edited or written by another version? Re-run traitlens analyze (and extract/steer) to rewrite them.`,
      { cause: error, details: { experiment: options.experiment } },
    );
  }
  // Temporary files of a report run that was killed are no one's now (a live writer's are kept).
  await removeStaleTemporaryFiles(output, { recursive: true });
  const htmlPath = join(output, 'index.html');
  await writeFileAtomic(htmlPath, html);
  const images: string[] = [];
  if (options.images ?? true) {
    for (const [index, chart] of charts.entries()) {
      const svg = await renderPlotSvg(chart.spec);
      await writeFileAtomic(join(output, 'plots', `${chart.id}.svg`), svg);
      await writeFileAtomic(join(output, 'plots', `${chart.id}.png`), renderSvgToPng(svg));
      images.push(`plots/${chart.id}.svg`, `plots/${chart.id}.png`);
      options.onProgress?.('images', index + 1, charts.length);
    }
  }
  return { htmlPath, charts: charts.map((chart) => chart.id), images, bytes: Buffer.byteLength(html) };
}
