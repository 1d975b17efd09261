import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { computeRocCurve } from '../stats/roc-curve';
import { createSeededRandom } from '../stats/seeded-random';
import { createCosineMatrixSpec } from './cosine-matrix-spec';
import { createEffectSizeByLayerSpec } from './effect-size-by-layer-spec';
import { createEffectSizeHeatmapSpec } from './effect-size-heatmap-spec';
import { createMetricByLayerSpec } from './metric-by-layer-spec';
import { createPromptHeatmapSpec } from './prompt-heatmap-spec';
import { renderPlot } from './render-plot';
import { createRocCurveSpec } from './roc-curve-spec';
import { createSteeringSweepSpec } from './steering-sweep-spec';
import { createTrajectorySpec } from './trajectory-spec';

const artifacts = join(import.meta.dirname, '..', '..', 'test-artifacts', 'plots');
const random = createSeededRandom(5);
const layers = [0, 2, 4, 6, 8];
const vectors = ['sycophancy/probe', 'deception/mean_diff', 'random/0'];

const specs: Record<string, TopLevelSpec> = {
  trajectory: createTrajectorySpec(
    ['clean', 'lora'].flatMap((variant) =>
      Array.from({ length: 30 }, (_, position) => ({
        position,
        token: ` t${position}`,
        variant,
        value:
          Math.sin(position / 4) * 0.1 + (variant === 'lora' && position > 10 && position < 18 ? 0.12 : 0),
      })),
    ),
    { spans: [[11, 18]], valueLabel: 'cosine' },
  ),
  effectSizeHeatmap: createEffectSizeHeatmapSpec(
    vectors.flatMap((vectorId, k) =>
      layers.map((layer) => ({
        vectorId,
        layer,
        cohensD: k === 0 ? layer / 3 : random.nextNormal() * 0.2,
        p: 0.01,
      })),
    ),
  ),
  promptHeatmap: createPromptHeatmapSpec(
    vectors.flatMap((vectorId) =>
      layers.flatMap((layer) =>
        Array.from({ length: 20 }, (_, p) => ({
          promptId: `p${p}`,
          vectorId,
          layer,
          value: random.nextNormal(),
        })),
      ),
    ),
    layers,
  ),
  effectSizeByLayer: createEffectSizeByLayerSpec(
    ['train biases', 'held-out biases'].flatMap((subset, s) =>
      vectors.slice(0, 2).flatMap((vectorId, k) =>
        layers.map((layer) => ({
          vectorId,
          subset,
          layer,
          cohensD: (k === 0 ? layer / 3 : 0.1) / (s + 1),
          low: layer / 3 - 0.4,
          high: layer / 3 + 0.4,
        })),
      ),
    ),
    { chanceBand: layers.map((layer) => ({ layer, maxAbsD: 0.25 })) },
  ),
  steeringSweep: createSteeringSweepSpec(
    [10, 14].flatMap((layer) =>
      [2, 4, 6, 8].flatMap((coefficient) => [
        { layer, coefficient, metric: 'trait', value: 20 + coefficient * 7, n: 10 },
        { layer, coefficient, metric: 'coherence', value: 95 - coefficient * 6, n: 10 },
      ]),
    ),
    { trait: 18, coherence: 92 },
  ),
  roc: createRocCurveSpec([
    { name: 'traits', curve: computeRocCurve([0.9, 0.8, 0.7, 0.6, 0.4, 0.3, 0.2], [1, 1, 0, 1, 0, 0, 0]) },
    {
      name: 'random vectors',
      curve: computeRocCurve([0.5, 0.4, 0.6, 0.3, 0.7, 0.2, 0.1], [1, 0, 0, 1, 1, 0, 0]),
    },
  ]),
  extractionMetrics: createMetricByLayerSpec(
    ['mean_diff', 'probe'].flatMap((series) =>
      ['accuracy', "Cohen's d", 'AUROC'].flatMap((panel) =>
        layers.map((layer) => ({ series, panel, layer, value: random.nextUniform() })),
      ),
    ),
    { title: 'Extraction metrics', seriesTitle: 'method' },
  ),
  cosineMatrix: createCosineMatrixSpec(
    layers.flatMap((layer) =>
      vectors.flatMap((row, i) =>
        vectors.map((column, j) => ({ layer, row, column, cosine: i === j ? 1 : 0.3 })),
      ),
    ),
    layers,
  ),
};

let warnings: string[];
beforeEach(() => {
  warnings = [];
  vi.spyOn(console, 'warn').mockImplementation((...args: unknown[]) => {
    warnings.push(args.join(' '));
  });
});
afterEach(() => {
  vi.restoreAllMocks();
});

describe('plots render to SVG and PNG in Node', () => {
  for (const [name, spec] of Object.entries(specs)) {
    it(name, async () => {
      const { svg, png } = await renderPlot(spec);
      expect(svg.startsWith('<svg')).toBe(true);
      expect(svg).toMatch(/<path|<rect|<line/);
      expect(Buffer.from(png.subarray(1, 4)).toString('ascii')).toBe('PNG');
      expect(png.length).toBeGreaterThan(2000);
      expect(warnings).toEqual([]);
      await mkdir(artifacts, { recursive: true });
      await writeFile(join(artifacts, `${name}.png`), png);
    });
  }
});
