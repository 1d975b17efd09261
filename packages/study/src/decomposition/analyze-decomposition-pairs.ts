import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  computePairedTTest,
  computePearsonCorrelation,
  computeWilcoxonSignedRankTest,
  renderPlotSvg,
} from '@traitlens/analysis';
import { TraitlensError, writeFileAtomic, writeJsonAtomic } from '@traitlens/core';

/** One trait of a pair and the direction the organism is predicted to move it. */
export interface DecompositionSide {
  /** A vector id of projections.json, e.g. `compliance/probe`. */
  vector: string;
  direction: 'high' | 'low';
}

/** A predicted decomposition: e.g. compliance high while helpfulness_intent low. */
export interface DecompositionPair {
  first: DecompositionSide;
  second: DecompositionSide;
}

/** The statistics of one pair at one layer. */
export interface DecompositionPairResult {
  pair: string;
  layer: number;
  prompts: number;
  /** Mean of (changed - base) per prompt, in units of the base projections' standard deviation. */
  meanShift: { first: number; second: number };
  /**
   * The divergence statistic: per prompt s1*z1 + s2*z2, with z the standardised shift and s +1 for a
   * predicted rise, -1 for a predicted fall; above 0 means the pair moved as predicted.
   */
  meanDivergence: number;
  /** Paired t-test of s1*z1 against -s2*z2 (that is, of the divergence against 0). */
  pairedT: { t: number; degreesOfFreedom: number; p: number };
  wilcoxon: { statistic: number; p: number };
  /** Pearson r of the two raw per-prompt shifts. */
  correlation: { r: number; p: number };
}

interface ProjectionsFile {
  promptIds: string[];
  layers: number[];
  vectorIds: string[];
  paired: (0 | 1 | null)[];
  values: { a: (number | null)[][][]; b: (number | null)[][][] | null };
}

export interface DecompositionPairsOptions {
  /** `analysis/projections.json` of an experiment. */
  projectionsFile: string;
  pairs: readonly DecompositionPair[];
  /** Layers to test (default every layer of the file). */
  layers?: readonly number[];
  /** Where decomposition-pairs.json and the scatter plots go. */
  outputDirectory: string;
}

function formatPair(pair: DecompositionPair): string {
  return `${pair.first.vector} ${pair.first.direction} + ${pair.second.vector} ${pair.second.direction}`;
}

function standardDeviation(values: readonly number[]): number {
  const mean = values.reduce((sum, value) => sum + value, 0) / values.length;
  return Math.sqrt(values.reduce((sum, value) => sum + (value - mean) ** 2, 0) / (values.length - 1));
}

/** A pair's two vectors: their row in projections.json and +1 for a predicted rise, -1 for a fall. */
type PairSides = [{ index: number; sign: number }, { index: number; sign: number }];

/** Per prompt of one layer (paired, both projections present): each side's shift and base projection. */
interface LayerShifts {
  shifts: [number[], number[]];
  bases: [number[], number[]];
  ids: string[];
}

async function readProjections(file: string): Promise<ProjectionsFile & { changed: (number | null)[][][] }> {
  let projections: ProjectionsFile;
  try {
    projections = JSON.parse(await readFile(file, 'utf8')) as ProjectionsFile;
  } catch (cause) {
    throw new TraitlensError(
      'INVALID_EXPERIMENT',
      `${file} is missing or unreadable; decomposition pairs read the analyze stage's projections.`,
      { cause, details: { file } },
    );
  }
  const changed = projections.values.b;
  if (!changed)
    throw new TraitlensError(
      'INVALID_EXPERIMENT',
      `${file} has projections of one variant only; decomposition pairs compare two variants on the same tokens.`,
    );
  return { ...projections, changed };
}

function pairSides(pair: DecompositionPair, projections: ProjectionsFile, file: string): PairSides {
  const side = ({ vector, direction }: DecompositionSide) => {
    const index = projections.vectorIds.indexOf(vector);
    if (index < 0)
      throw new TraitlensError(
        'INVALID_CONFIG',
        `Decomposition pair vector "${vector}" is not in ${file} (vectors: ${projections.vectorIds.filter((id) => !id.startsWith('random')).join(', ')}).`,
      );
    return { index, sign: direction === 'high' ? 1 : -1 };
  };
  return [side(pair.first), side(pair.second)];
}

function collectLayerShifts(
  projections: ProjectionsFile & { changed: (number | null)[][][] },
  sides: PairSides,
  layerIndex: number,
): LayerShifts {
  const shifts: LayerShifts['shifts'] = [[], []];
  const bases: LayerShifts['bases'] = [[], []];
  const ids: string[] = [];
  const read = (index: number, prompt: number) => ({
    a: projections.values.a[index]?.[layerIndex]?.[prompt],
    b: projections.changed[index]?.[layerIndex]?.[prompt],
  });
  projections.promptIds.forEach((promptId, prompt) => {
    if (projections.paired[prompt] !== 1) return;
    const first = read(sides[0].index, prompt);
    const second = read(sides[1].index, prompt);
    if (first.a == null || first.b == null || second.a == null || second.b == null) return;
    shifts[0].push(first.b - first.a);
    bases[0].push(first.a);
    shifts[1].push(second.b - second.a);
    bases[1].push(second.a);
    ids.push(promptId);
  });
  return { shifts, bases, ids };
}

const mean = (values: readonly number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;

/** The pair's statistics at one layer from its per-prompt shifts. */
function measurePairAtLayer(options: {
  pair: DecompositionPair;
  layer: number;
  sides: PairSides;
  layerShifts: LayerShifts;
}): DecompositionPairResult {
  const { pair, layer, sides } = options;
  const { shifts, bases, ids } = options.layerShifts;
  const scales = [standardDeviation(bases[0]) || 1, standardDeviation(bases[1]) || 1] as const;
  const signed: [number[], number[]] = [
    shifts[0].map((value) => (sides[0].sign * value) / scales[0]),
    shifts[1].map((value) => (sides[1].sign * value) / scales[1]),
  ];
  const divergence = signed[0].map((value, prompt) => value + signed[1][prompt]!);
  const pairedT = computePairedTTest(
    signed[0],
    signed[1].map((value) => -value),
  );
  const wilcoxon = computeWilcoxonSignedRankTest(
    signed[0],
    signed[1].map((value) => -value),
  );
  const correlation = computePearsonCorrelation(shifts[0], shifts[1]);
  return {
    pair: formatPair(pair),
    layer,
    prompts: ids.length,
    meanShift: { first: mean(shifts[0]) / scales[0], second: mean(shifts[1]) / scales[1] },
    meanDivergence: mean(divergence),
    pairedT,
    wilcoxon: { statistic: wilcoxon.statistic, p: wilcoxon.p },
    correlation: { r: correlation.r, p: correlation.p },
  };
}

/** The per-prompt scatter plot of a pair's two shifts at its layer of largest divergence; returns its path. */
async function writePairPlot(options: {
  pair: DecompositionPair;
  best: { result: DecompositionPairResult; shifts: [number[], number[]]; ids: string[] };
  outputDirectory: string;
}): Promise<string> {
  const { pair, best } = options;
  const name =
    `${pair.first.vector}-${pair.first.direction}--${pair.second.vector}-${pair.second.direction}`.replace(
      /[^\w.-]+/g,
      '_',
    );
  const svg = await renderPlotSvg({
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: `${best.result.pair} (layer ${best.result.layer}, divergence ${best.result.meanDivergence.toFixed(2)} sd, paired t p = ${best.result.pairedT.p.toExponential(1)})`,
    width: 360,
    height: 360,
    data: {
      values: best.ids.map((promptId, prompt) => ({
        prompt: promptId,
        first: best.shifts[0][prompt],
        second: best.shifts[1][prompt],
      })),
    },
    mark: { type: 'point', filled: true, opacity: 0.7 },
    encoding: {
      x: { field: 'first', type: 'quantitative', title: `${pair.first.vector}: changed - base` },
      y: { field: 'second', type: 'quantitative', title: `${pair.second.vector}: changed - base` },
      tooltip: [{ field: 'prompt', type: 'nominal' }],
    },
  });
  const plot = join(options.outputDirectory, `${name}.svg`);
  await writeFileAtomic(plot, svg);
  return plot;
}

/**
 * Tests predicted decomposition pairs on the per-prompt projections of both variants on identical tokens
 * (the analyze stage's projections.json): per prompt the shift of each trait (changed - base), scaled by
 * the sd of that trait's base projections, signed by the prediction; a paired t-test and a Wilcoxon test
 * of the two signed shifts (does the pair diverge as predicted?), Pearson r of the raw shifts, and a
 * per-prompt scatter plot of the two shifts at the layer of the largest divergence.
 */
export async function analyzeDecompositionPairs(
  options: DecompositionPairsOptions,
): Promise<{ file: string; results: DecompositionPairResult[]; plots: string[] }> {
  const projections = await readProjections(options.projectionsFile);
  const layers = options.layers ?? projections.layers;
  const results: DecompositionPairResult[] = [];
  const plots: string[] = [];
  await mkdir(options.outputDirectory, { recursive: true });
  for (const pair of options.pairs) {
    const sides = pairSides(pair, projections, options.projectionsFile);
    let best: { result: DecompositionPairResult; shifts: [number[], number[]]; ids: string[] } | undefined;
    for (const layer of layers) {
      const layerIndex = projections.layers.indexOf(layer);
      if (layerIndex < 0) continue;
      const layerShifts = collectLayerShifts(projections, sides, layerIndex);
      if (layerShifts.ids.length < 3) continue;
      const result = measurePairAtLayer({ pair, layer, sides, layerShifts });
      results.push(result);
      if (!best || result.meanDivergence > best.result.meanDivergence)
        best = { result, shifts: layerShifts.shifts, ids: layerShifts.ids };
    }
    if (best) plots.push(await writePairPlot({ pair, best, outputDirectory: options.outputDirectory }));
  }
  const file = join(options.outputDirectory, 'decomposition-pairs.json');
  await writeJsonAtomic(file, {
    format: 'traitlens.decomposition-pairs',
    formatVersion: '1',
    pairs: options.pairs.map(formatPair),
    results,
  });
  return { file, results, plots };
}
