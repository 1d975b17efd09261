import { availableParallelism } from 'node:os';
import { TraitlensError } from '@traitlens/core';
import { createSpanMask, type ExploitAnnotations } from './exploit-annotations';
import { prefetchInOrder } from './prefetch-in-order';
import {
  createProjectionScratch,
  type ProjectionScratch,
  projectTokenActivations,
  type RandomSummaryRequest,
  type TokenProjections,
} from './project-token-activations';
import { type ProjectionSettings, resolveTokenRange } from './projection-settings';
import type { ProjectionTable } from './projection-table';
import { ProjectionWorkerPool } from './projection-worker-pool';
import type { RandomDirections } from './random-directions';
import { readActivationTensors } from './read-activation-tensors';
import { readProjectionFile } from './read-projection-file';
import { summarizeTokenProjections } from './summarize-token-projections';
import type { VectorBank } from './vector-bank';

/** One prompt's activation file in variant A and, for a model diff, the same prompt's file in variant B. */
export interface ActivationFilePair {
  promptId: string;
  pathA: string;
  pathB?: string;
}

export interface ProjectActivationFilesOptions {
  bank: VectorBank;
  settings: ProjectionSettings;
  variantA: string;
  variantB?: string | undefined;
  /** Files read and projected ahead of the one being aggregated (default: 2 per thread, at least 4). */
  readAhead?: number | undefined;
  /**
   * Threads projecting in parallel (default: the machine's available parallelism, at most 8). 1 projects
   * on the calling thread, without workers.
   */
  threads?: number | undefined;
  /**
   * `activations` (default): the paths are activation files. `projections`: they are capture projection
   * files (per-token projections taken during capture; the bank must come from their columns).
   */
  source?: 'activations' | 'projections' | undefined;
  /** Exploit spans for token-level specificity (model diff only). */
  annotations?: ExploitAnnotations | undefined;
  /** Prompts whose per-token projections are kept in the result (for trajectories and the token view). */
  keepTokens?: ((promptId: string) => boolean) | undefined;
  /**
   * Random directions to project each response's aggregated activation onto (the random-direction null).
   * Exact only for linear aggregations of activation files (mean, last, token windows); ignored with
   * `max` aggregation or capture projection files (see `randomDirectionsApply`).
   */
  randomDirections?: RandomDirections | undefined;
  onProgress?: ((done: number, total: number) => void) | undefined;
}

/** Token-level statistics of delta = projection(B) - projection(A) on identical tokens, per layer and vector. */
export interface TokenDeltaStatistics {
  layer: number;
  vectorId: string;
  tokens: number;
  meanDelta: number;
  sdDelta: number;
  /** mean / sd of per-token deltas: a per-token effect size, to set against the per-response one. */
  tokenPairedD: number;
  /** Present when annotations were given: mean delta on exploit tokens minus elsewhere in annotated prompts. */
  specificity?: {
    insideTokens: number;
    outsideTokens: number;
    meanInside: number;
    meanOutside: number;
    specificity: number;
  };
}

export interface ProjectedActivations {
  a: ProjectionTable;
  b?: ProjectionTable;
  /** Per prompt: 1 where A and B hold the same response token ids, so paired statistics apply. */
  paired: Uint8Array;
  /** Per layer position, mean over paired prompts of each response's mean activation (model diff only). */
  meanActivations?: { a: Float64Array[]; b: Float64Array[]; prompts: number };
  tokenDeltas?: TokenDeltaStatistics[];
  /** Per-token projections of the prompts selected by `keepTokens`. */
  tokens: Map<string, { a: TokenProjections; b?: TokenProjections }>;
  /**
   * Per-response projections onto the random directions, index (prompt * layers + layer position) * R + r,
   * present when `randomDirections` was given and applies.
   */
  random?: { count: number; seed: number; a: Float32Array; b?: Float32Array };
}

/**
 * Whether the cheap random-direction null is exact for these settings: the per-response value must be a
 * linear function of the (normalised) activations, which holds for every aggregation but `max`, and the
 * activations themselves must be at hand (not capture projection files).
 */
export function randomDirectionsApply(
  settings: ProjectionSettings,
  source: 'activations' | 'projections' = 'activations',
): boolean {
  return source === 'activations' && settings.aggregation.kind !== 'max';
}

function sameTokens(a: Int32Array, b: Int32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Whether the prompts have variant-B files; fails when only some have one. */
function hasVariantB(files: readonly ActivationFilePair[]): boolean {
  const hasB = files.some((file) => file.pathB !== undefined);
  if (hasB && files.some((file) => file.pathB === undefined)) {
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      'Either every prompt or none has a variant-B file; pair the prompts present in both variants first.',
    );
  }
  return hasB;
}

/** The random directions to project onto, when given and exact here; fails when they do not fit the bank. */
function applicableRandomDirections(options: ProjectActivationFilesOptions): RandomDirections | undefined {
  const { bank, settings } = options;
  const layerCount = bank.layers.length;
  const directions =
    options.randomDirections && randomDirectionsApply(settings, options.source)
      ? options.randomDirections
      : undefined;
  if (directions && (directions.hiddenSize !== bank.hiddenSize || directions.layerMaps.length < layerCount))
    throw new TraitlensError(
      'SHAPE_MISMATCH',
      `Random directions of width ${directions.hiddenSize} for ${directions.layerMaps.length} layers cannot be used with vectors of width ${bank.hiddenSize} at ${layerCount} layers; create them with hiddenSize and layers of the bank.`,
    );
  return directions;
}

/** How a file becomes per-token projections (see `projectFile`). */
interface FileProjector {
  bank: VectorBank;
  settings: ProjectionSettings;
  /** False: the paths are capture projection files. */
  fromActivations: boolean;
  pool: ProjectionWorkerPool | undefined;
  scratch: ProjectionScratch;
  directions: RandomDirections | undefined;
}

/** The aggregation's token range of a response of `tokenCount` tokens, for the random-direction null. */
function randomSummaryRequest(
  directions: RandomDirections,
  settings: ProjectionSettings,
  tokenCount: number,
): RandomSummaryRequest {
  const [start, end] = resolveTokenRange(settings.aggregation, tokenCount);
  return { directions, start, end, normalise: settings.measure === 'cosine' };
}

/** One file's per-token projections: read from a capture projection file, or projected (worker or here). */
async function projectFile(
  projector: FileProjector,
  request: { path: string; meanActivations: boolean },
): Promise<TokenProjections> {
  const { bank, settings, pool, directions } = projector;
  if (!projector.fromActivations) return readProjectionFile(request.path, settings.part, bank);
  const tensors = await readActivationTensors(request.path, settings.part, bank.site, bank.layers);
  const random = directions ? randomSummaryRequest(directions, settings, tensors.tokenIds.length) : undefined;
  const { meanActivations } = request;
  return pool
    ? pool.project(tensors, bank, { meanActivations, random })
    : projectTokenActivations(tensors, bank, { meanActivations, scratch: projector.scratch, random });
}

/** Where one variant's per-response values go. */
interface VariantSink {
  table: ProjectionTable;
  /** Per-response projections onto the random directions, when they are taken. */
  random: Float32Array | undefined;
}

/** Per (layer, vector) cell: running sums of the token deltas B - A of paired prompts. */
interface TokenDeltaSums {
  count: Float64Array;
  sum: Float64Array;
  squares: Float64Array;
  insideCount: Float64Array;
  insideSum: Float64Array;
  outsideCount: Float64Array;
  outsideSum: Float64Array;
}

/** What projectActivationFiles fills in while it streams the files. */
interface ProjectionAccumulator {
  options: ProjectActivationFilesOptions;
  /** Values per response: layers x vectors, and layers x random directions. */
  cell: number;
  randomCell: number;
  a: VariantSink;
  b: VariantSink | undefined;
  paired: Uint8Array;
  tokens: Map<string, { a: TokenProjections; b?: TokenProjections }>;
  /** Per layer position: sums of the paired prompts' mean activations (means once all are in). */
  means: { a: Float64Array[]; b: Float64Array[]; prompts: number } | undefined;
  deltas: TokenDeltaSums;
}

/** An empty per-response table of one variant: a row per file, a cell per (layer, vector). */
function createProjectionTable(
  variant: string,
  files: readonly ActivationFilePair[],
  options: ProjectActivationFilesOptions,
): ProjectionTable {
  const { bank, settings } = options;
  const cell = bank.layers.length * bank.vectors.length;
  return {
    variant,
    promptIds: files.map((file) => file.promptId),
    layers: bank.layers,
    vectorIds: bank.vectors.map((vector) => vector.id),
    settings,
    values: new Float64Array(files.length * cell),
    tokenCounts: new Int32Array(files.length),
  };
}

function createAccumulator(
  files: readonly ActivationFilePair[],
  options: ProjectActivationFilesOptions,
  sources: { hasB: boolean; fromActivations: boolean; directions: RandomDirections | undefined },
): ProjectionAccumulator {
  const { bank } = options;
  const { hasB, directions } = sources;
  const promptCount = files.length;
  const cell = bank.layers.length * bank.vectors.length;
  const randomCell = directions ? bank.layers.length * directions.count : 0;
  const sums = () => bank.layers.map(() => new Float64Array(bank.hiddenSize));
  return {
    options,
    cell,
    randomCell,
    a: {
      table: createProjectionTable(options.variantA, files, options),
      random: directions ? new Float32Array(promptCount * randomCell) : undefined,
    },
    b: hasB
      ? {
          table: createProjectionTable(options.variantB ?? 'B', files, options),
          random: directions ? new Float32Array(promptCount * randomCell) : undefined,
        }
      : undefined,
    paired: new Uint8Array(promptCount),
    tokens: new Map(),
    // Mean activations exist only where activations do (not for capture projection files).
    means: hasB && sources.fromActivations ? { a: sums(), b: sums(), prompts: 0 } : undefined,
    deltas: {
      count: new Float64Array(cell),
      sum: new Float64Array(cell),
      squares: new Float64Array(cell),
      insideCount: new Float64Array(cell),
      insideSum: new Float64Array(cell),
      outsideCount: new Float64Array(cell),
      outsideSum: new Float64Array(cell),
    },
  };
}

/**
 * Projects every prompt's activations (A, and B when given) onto a vector bank, streaming one file pair at
 * a time: only the tensors of the bank's layers are read, per-response values go into typed tables, and
 * per-token values are reduced on the fly to token-level delta statistics, keeping only the prompts asked
 * for. Memory stays proportional to prompts x layers x vectors, not to the activations.
 */
export async function projectActivationFiles(
  files: readonly ActivationFilePair[],
  options: ProjectActivationFilesOptions,
): Promise<ProjectedActivations> {
  const { bank, settings } = options;
  const hasB = hasVariantB(files);
  const fromActivations = (options.source ?? 'activations') === 'activations';
  const directions = applicableRandomDirections(options);
  const threads = Math.max(1, Math.floor(options.threads ?? Math.min(8, availableParallelism())));
  const pool =
    fromActivations && threads > 1 && files.length > 1 ? ProjectionWorkerPool.create(threads) : undefined;
  const accumulator = createAccumulator(files, options, { hasB, fromActivations, directions });
  const projector: FileProjector = {
    bank,
    settings,
    fromActivations,
    pool,
    scratch: createProjectionScratch(),
    directions,
  };
  const load = async (file: ActivationFilePair) => {
    const [projectionsA, projectionsB] = await Promise.all([
      projectFile(projector, { path: file.pathA, meanActivations: hasB }),
      file.pathB === undefined
        ? undefined
        : projectFile(projector, { path: file.pathB, meanActivations: true }),
    ]);
    return { projectionsA, projectionsB };
  };
  let index = 0;
  try {
    for await (const { item: file, value } of prefetchInOrder(
      files,
      load,
      options.readAhead ?? Math.max(4, 2 * threads),
    )) {
      recordPrompt(accumulator, index, file, value);
      index++;
      options.onProgress?.(index, files.length);
    }
  } finally {
    await pool?.close();
  }
  return finishProjection(accumulator, directions);
}

/** One response's per-response values (and random-direction projections) into row `index` of its variant. */
function storeResponse(
  accumulator: ProjectionAccumulator,
  sink: VariantSink,
  index: number,
  projections: TokenProjections,
): void {
  const { bank, settings } = accumulator.options;
  sink.table.values.set(summarizeTokenProjections(projections, bank, settings), index * accumulator.cell);
  sink.table.tokenCounts[index] = projections.tokenCount;
  if (sink.random && projections.randomDots)
    sink.random.set(projections.randomDots, index * accumulator.randomCell);
}

/** One prompt's responses; a pair with identical tokens also adds its mean activations and token deltas. */
function recordPrompt(
  accumulator: ProjectionAccumulator,
  index: number,
  file: ActivationFilePair,
  loaded: { projectionsA: TokenProjections; projectionsB: TokenProjections | undefined },
): void {
  const { projectionsA } = loaded;
  storeResponse(accumulator, accumulator.a, index, projectionsA);
  const projectionsB = accumulator.b ? loaded.projectionsB : undefined;
  if (accumulator.b && projectionsB) {
    storeResponse(accumulator, accumulator.b, index, projectionsB);
    if (sameTokens(projectionsA.tokenIds, projectionsB.tokenIds)) {
      accumulator.paired[index] = 1;
      const { means } = accumulator;
      if (means && projectionsA.meanActivations && projectionsB.meanActivations)
        addMeanActivations(means, projectionsA.meanActivations, projectionsB.meanActivations);
      const spans = accumulator.options.annotations?.get(file.promptId);
      const mask = spans ? createSpanMask(spans, projectionsA.tokenCount) : undefined;
      addTokenDeltas(accumulator, { a: projectionsA, b: projectionsB, mask });
    }
  }
  keepTokens(accumulator, file.promptId, projectionsA, projectionsB);
}

/** Adds one pair's per-layer mean activations to the sums. */
function addMeanActivations(
  means: NonNullable<ProjectionAccumulator['means']>,
  rowsA: readonly Float64Array[],
  rowsB: readonly Float64Array[],
): void {
  means.prompts++;
  for (let l = 0; l < means.a.length; l++) {
    const sumA = means.a[l]!;
    const sumB = means.b[l]!;
    const rowA = rowsA[l]!;
    const rowB = rowsB[l]!;
    for (let j = 0; j < sumA.length; j++) {
      sumA[j]! += rowA[j]!;
      sumB[j]! += rowB[j]!;
    }
  }
}

/** Each token's delta B - A into its (layer, vector) cell, and inside or outside the exploit spans. */
function addTokenDeltas(
  accumulator: ProjectionAccumulator,
  pair: { a: TokenProjections; b: TokenProjections; mask: Uint8Array | undefined },
): void {
  const { bank, settings } = accumulator.options;
  const { count: deltaCount, sum: deltaSum, squares: deltaSquares } = accumulator.deltas;
  const { insideCount, insideSum, outsideCount, outsideSum } = accumulator.deltas;
  const { a: projectionsA, b: projectionsB, mask } = pair;
  const layerCount = bank.layers.length;
  const vectorCount = bank.vectors.length;
  // readTokenProjection inlined (the same arithmetic): this loop runs for every token of every pair.
  const tokenCount = projectionsA.tokenCount;
  const cosine = settings.measure !== 'scalar';
  const dotsA = projectionsA.dots;
  const dotsB = projectionsB.dots;
  const normsA = projectionsA.norms;
  const normsB = projectionsB.norms;
  for (let l = 0; l < layerCount; l++) {
    for (let k = 0; k < vectorCount; k++) {
      if (!bank.present[l]![k]) continue;
      const c = l * vectorCount + k;
      const baseline = bank.baselines[l]![k]!;
      const atA = (l * projectionsA.vectorCount + k) * tokenCount;
      const atB = (l * projectionsB.vectorCount + k) * tokenCount;
      for (let t = 0; t < tokenCount; t++) {
        const centredA = settings.centred ? dotsA[atA + t]! - baseline : dotsA[atA + t]!;
        const centredB = settings.centred ? dotsB[atB + t]! - baseline : dotsB[atB + t]!;
        const normA = normsA[l * tokenCount + t]!;
        const normB = normsB[l * tokenCount + t]!;
        const valueA = cosine ? (normA === 0 ? 0 : centredA / normA) : centredA;
        const valueB = cosine ? (normB === 0 ? 0 : centredB / normB) : centredB;
        const delta = valueB - valueA;
        deltaCount[c]!++;
        deltaSum[c]! += delta;
        deltaSquares[c]! += delta * delta;
        if (mask) {
          if (mask[t]) {
            insideCount[c]!++;
            insideSum[c]! += delta;
          } else {
            outsideCount[c]!++;
            outsideSum[c]! += delta;
          }
        }
      }
    }
  }
}

/** Per-token arrays are large: keeps only the prompts someone asked to see, minus per-response extras. */
function keepTokens(
  accumulator: ProjectionAccumulator,
  promptId: string,
  projectionsA: TokenProjections,
  projectionsB: TokenProjections | undefined,
): void {
  if (!accumulator.options.keepTokens?.(promptId)) return;
  delete projectionsA.meanActivations;
  delete projectionsA.randomDots;
  const kept: { a: TokenProjections; b?: TokenProjections } = { a: projectionsA };
  if (projectionsB) {
    delete projectionsB.meanActivations;
    delete projectionsB.randomDots;
    kept.b = projectionsB;
  }
  accumulator.tokens.set(promptId, kept);
}

/** Token delta statistics per (layer, vector) cell with tokens; exploit specificity given annotations. */
function tokenDeltaStatistics(accumulator: ProjectionAccumulator): TokenDeltaStatistics[] {
  const { bank, annotations } = accumulator.options;
  const { count: deltaCount, sum: deltaSum, squares: deltaSquares } = accumulator.deltas;
  const { insideCount, insideSum, outsideCount, outsideSum } = accumulator.deltas;
  const vectorCount = bank.vectors.length;
  const statistics: TokenDeltaStatistics[] = [];
  for (let l = 0; l < bank.layers.length; l++) {
    for (let k = 0; k < vectorCount; k++) {
      const c = l * vectorCount + k;
      const n = deltaCount[c]!;
      if (!bank.present[l]![k] || n === 0) continue;
      const mean = deltaSum[c]! / n;
      const variance = n > 1 ? Math.max(0, (deltaSquares[c]! - n * mean * mean) / (n - 1)) : Number.NaN;
      const sd = Math.sqrt(variance);
      const entry: TokenDeltaStatistics = {
        layer: bank.layers[l]!,
        vectorId: bank.vectors[k]!.id,
        tokens: n,
        meanDelta: mean,
        sdDelta: sd,
        tokenPairedD: sd > 0 ? mean / sd : Number.NaN,
      };
      if (annotations) {
        const meanInside = insideCount[c]! > 0 ? insideSum[c]! / insideCount[c]! : Number.NaN;
        const meanOutside = outsideCount[c]! > 0 ? outsideSum[c]! / outsideCount[c]! : Number.NaN;
        entry.specificity = {
          insideTokens: insideCount[c]!,
          outsideTokens: outsideCount[c]!,
          meanInside,
          meanOutside,
          specificity: meanInside - meanOutside,
        };
      }
      statistics.push(entry);
    }
  }
  return statistics;
}

/** The result: tables, random-direction projections, mean activations (sums divided) and token deltas. */
function finishProjection(
  accumulator: ProjectionAccumulator,
  directions: RandomDirections | undefined,
): ProjectedActivations {
  const { a, b, paired, tokens, means } = accumulator;
  const result: ProjectedActivations = { a: a.table, paired, tokens };
  if (directions && a.random)
    result.random = {
      count: directions.count,
      seed: directions.seed,
      a: a.random,
      ...(b?.random ? { b: b.random } : {}),
    };
  if (b) {
    result.b = b.table;
    if (means) {
      if (means.prompts > 0) {
        for (const sums of [...means.a, ...means.b])
          for (let j = 0; j < sums.length; j++) sums[j] = sums[j]! / means.prompts;
      }
      result.meanActivations = { a: means.a, b: means.b, prompts: means.prompts };
    }
    result.tokenDeltas = tokenDeltaStatistics(accumulator);
  }
  return result;
}
