import { availableParallelism } from 'node:os';
import { TraitlensError } from '@traitlens/core';
import { createSpanMask, type ExploitAnnotations } from './exploit-annotations';
import { prefetchInOrder } from './prefetch-in-order';
import {
  createProjectionScratch,
  projectTokenActivations,
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
  variantB?: string;
  /** Files read and projected ahead of the one being aggregated (default: 2 per thread, at least 4). */
  readAhead?: number;
  /**
   * Threads projecting in parallel (default: the machine's available parallelism, at most 8). 1 projects
   * on the calling thread, without workers.
   */
  threads?: number;
  /**
   * `activations` (default): the paths are activation files. `projections`: they are capture projection
   * files (per-token projections taken during capture; the bank must come from their columns).
   */
  source?: 'activations' | 'projections';
  /** Exploit spans for token-level specificity (model diff only). */
  annotations?: ExploitAnnotations;
  /** Prompts whose per-token projections are kept in the result (for trajectories and the token view). */
  keepTokens?: (promptId: string) => boolean;
  /**
   * Random directions to project each response's aggregated activation onto (the random-direction null).
   * Exact only for linear aggregations of activation files (mean, last, token windows); ignored with
   * `max` aggregation or capture projection files (see `randomDirectionsApply`).
   */
  randomDirections?: RandomDirections;
  onProgress?: (done: number, total: number) => void;
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
  const hasB = files.some((file) => file.pathB !== undefined);
  if (hasB && files.some((file) => file.pathB === undefined)) {
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      'Either every prompt or none has a variant-B file; pair the prompts present in both variants first.',
    );
  }
  const layerCount = bank.layers.length;
  const vectorCount = bank.vectors.length;
  const cell = layerCount * vectorCount;
  const promptCount = files.length;
  const table = (variant: string): ProjectionTable => ({
    variant,
    promptIds: files.map((file) => file.promptId),
    layers: bank.layers,
    vectorIds: bank.vectors.map((vector) => vector.id),
    settings,
    values: new Float64Array(promptCount * cell),
    tokenCounts: new Int32Array(promptCount),
  });
  const a = table(options.variantA);
  const b = hasB ? table(options.variantB ?? 'B') : undefined;
  const paired = new Uint8Array(promptCount);
  const tokens = new Map<string, { a: TokenProjections; b?: TokenProjections }>();
  const fromActivations = (options.source ?? 'activations') === 'activations';
  // Mean activations exist only where activations do (not for capture projection files).
  const meanA =
    hasB && fromActivations ? bank.layers.map(() => new Float64Array(bank.hiddenSize)) : undefined;
  const meanB =
    hasB && fromActivations ? bank.layers.map(() => new Float64Array(bank.hiddenSize)) : undefined;
  let meanPrompts = 0;
  // Token delta accumulators per (layer, vector): count, sum, sum of squares, inside/outside sums.
  const deltaCount = new Float64Array(cell);
  const deltaSum = new Float64Array(cell);
  const deltaSquares = new Float64Array(cell);
  const insideCount = new Float64Array(cell);
  const insideSum = new Float64Array(cell);
  const outsideCount = new Float64Array(cell);
  const outsideSum = new Float64Array(cell);
  const threads = Math.max(1, Math.floor(options.threads ?? Math.min(8, availableParallelism())));
  const pool =
    fromActivations && threads > 1 && files.length > 1 ? ProjectionWorkerPool.create(threads) : undefined;
  const scratch = createProjectionScratch();
  const directions =
    options.randomDirections && randomDirectionsApply(settings, options.source)
      ? options.randomDirections
      : undefined;
  if (directions && (directions.hiddenSize !== bank.hiddenSize || directions.layerMaps.length < layerCount))
    throw new TraitlensError(
      'SHAPE_MISMATCH',
      `Random directions of width ${directions.hiddenSize} for ${directions.layerMaps.length} layers cannot be used with vectors of width ${bank.hiddenSize} at ${layerCount} layers; create them with hiddenSize and layers of the bank.`,
    );
  const randomCell = directions ? layerCount * directions.count : 0;
  const randomA = directions ? new Float32Array(promptCount * randomCell) : undefined;
  const randomB = directions && hasB ? new Float32Array(promptCount * randomCell) : undefined;
  const project = async (path: string, meanActivations: boolean): Promise<TokenProjections> => {
    if (!fromActivations) return readProjectionFile(path, settings.part, bank);
    const tensors = await readActivationTensors(path, settings.part, bank.site, bank.layers);
    const random = directions
      ? (() => {
          const [start, end] = resolveTokenRange(settings.aggregation, tensors.tokenIds.length);
          return { directions, start, end, normalise: settings.measure === 'cosine' };
        })()
      : undefined;
    return pool
      ? pool.project(tensors, bank, { meanActivations, ...(random ? { random } : {}) })
      : projectTokenActivations(tensors, bank, { meanActivations, scratch, ...(random ? { random } : {}) });
  };
  const load = async (file: ActivationFilePair) => {
    const [projectionsA, projectionsB] = await Promise.all([
      project(file.pathA, hasB),
      file.pathB === undefined ? undefined : project(file.pathB, true),
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
      const projectionsA = value.projectionsA;
      a.values.set(summarizeTokenProjections(projectionsA, bank, settings), index * cell);
      a.tokenCounts[index] = projectionsA.tokenCount;
      if (randomA && projectionsA.randomDots) randomA.set(projectionsA.randomDots, index * randomCell);
      let projectionsB: TokenProjections | undefined;
      if (b && value.projectionsB) {
        projectionsB = value.projectionsB;
        b.values.set(summarizeTokenProjections(projectionsB, bank, settings), index * cell);
        b.tokenCounts[index] = projectionsB.tokenCount;
        if (randomB && projectionsB.randomDots) randomB.set(projectionsB.randomDots, index * randomCell);
        if (sameTokens(projectionsA.tokenIds, projectionsB.tokenIds)) {
          paired[index] = 1;
          if (meanA && meanB && projectionsA.meanActivations && projectionsB.meanActivations) {
            meanPrompts++;
            for (let l = 0; l < layerCount; l++) {
              const sumA = meanA[l]!;
              const sumB = meanB[l]!;
              const rowA = projectionsA.meanActivations[l]!;
              const rowB = projectionsB.meanActivations[l]!;
              for (let j = 0; j < bank.hiddenSize; j++) {
                sumA[j]! += rowA[j]!;
                sumB[j]! += rowB[j]!;
              }
            }
          }
          const spans = options.annotations?.get(file.promptId);
          const mask = spans ? createSpanMask(spans, projectionsA.tokenCount) : undefined;
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
      }
      // Per-token arrays are large; keep only the prompts someone asked to look at.
      if (options.keepTokens?.(file.promptId)) {
        delete projectionsA.meanActivations;
        delete projectionsA.randomDots;
        const kept: { a: TokenProjections; b?: TokenProjections } = { a: projectionsA };
        if (projectionsB) {
          delete projectionsB.meanActivations;
          delete projectionsB.randomDots;
          kept.b = projectionsB;
        }
        tokens.set(file.promptId, kept);
      }
      index++;
      options.onProgress?.(index, promptCount);
    }
  } finally {
    await pool?.close();
  }
  const result: ProjectedActivations = { a, paired, tokens };
  if (directions && randomA)
    result.random = {
      count: directions.count,
      seed: directions.seed,
      a: randomA,
      ...(randomB ? { b: randomB } : {}),
    };
  if (b) {
    result.b = b;
    if (meanA && meanB) {
      if (meanPrompts > 0) {
        for (const sums of [...meanA, ...meanB])
          for (let j = 0; j < sums.length; j++) sums[j] = sums[j]! / meanPrompts;
      }
      result.meanActivations = { a: meanA, b: meanB, prompts: meanPrompts };
    }
    const statistics: TokenDeltaStatistics[] = [];
    for (let l = 0; l < layerCount; l++) {
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
        if (options.annotations) {
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
    result.tokenDeltas = statistics;
  }
  return result;
}
