import { TraitlensError } from '@traitlens/core';
import type { ProjectedActivations } from '../projections/project-activation-files';
import { readProjectionColumn } from '../projections/projection-table';
import type { VectorBank } from '../projections/vector-bank';
import {
  type BootstrapOptions,
  computeBootstrapConfidenceIntervals,
} from '../stats/bootstrap-confidence-interval';
import { computeCohensD, computePairedCohensD } from '../stats/cohens-d';
import { computePairedTTest } from '../stats/paired-t-test';
import { computeMean, computeStandardDeviation } from '../stats/sample-statistics';
import { computeWelchTTest, type TTestResult } from '../stats/welch-t-test';

/** B against A for one vector at one layer, on per-response projections. */
export interface ModelDiffEntry {
  vectorId: string;
  layer: number;
  /** Prompts in the comparison (each contributes one A and one B response). */
  n: number;
  /** Prompts whose A and B responses have identical tokens (used by the paired statistics). */
  pairedN: number;
  meanA: number;
  meanB: number;
  sdA: number;
  sdB: number;
  /** mean(B) - mean(A). */
  meanDifference: number;
  /** Unpaired d, pooled sd = sqrt((sd_A^2 + sd_B^2) / 2); positive when B projects higher. */
  cohensD: number;
  cohensDInterval: [number, number];
  /** mean(B - A) / sd(B - A) over paired prompts. */
  pairedD: number;
  pairedDInterval: [number, number];
  welch: TTestResult;
  pairedT: TTestResult;
  /** cos(mean activation of B - mean activation of A, v) at this layer; null without paired prompts. */
  meanActivationCosine: number | null;
}

/** Where a vector separates B from A most: the layer of largest |d|. */
export interface ModelDiffPeak {
  vectorId: string;
  trait: string;
  method: string;
  isRandomBaseline: boolean;
  peakLayer: number;
  cohensD: number;
  cohensDInterval: [number, number];
  pairedD: number;
  p: number;
  meanActivationCosine: number | null;
}

export interface ModelDiffResult {
  subset: string;
  promptCount: number;
  pairedCount: number;
  bootstrap: { resamples: number; confidence: number; seed: number };
  entries: ModelDiffEntry[];
  peaks: ModelDiffPeak[];
  /** Per layer: the largest |d| any random baseline vector reached, i.e. chance level for this data. */
  randomBaselineMaxAbsD: { layer: number; maxAbsD: number }[];
}

export interface ModelDiffOptions {
  bootstrap?: BootstrapOptions;
  /** Restrict to these prompt positions (e.g. train-bias prompts) and name the subset. */
  promptIndices?: readonly number[];
  subset?: string;
}

/** d over resampled units with running sums; enough precision for a bootstrap distribution. */
function resampledCohensD(b: Float64Array, a: Float64Array, indices: Int32Array): number {
  let sumA = 0;
  let sumB = 0;
  let squaresA = 0;
  let squaresB = 0;
  const n = indices.length;
  for (let i = 0; i < n; i++) {
    const x = a[indices[i]!]!;
    const y = b[indices[i]!]!;
    sumA += x;
    sumB += y;
    squaresA += x * x;
    squaresB += y * y;
  }
  const meanA = sumA / n;
  const meanB = sumB / n;
  const varianceA = (squaresA - n * meanA * meanA) / (n - 1);
  const varianceB = (squaresB - n * meanB * meanB) / (n - 1);
  return (meanB - meanA) / Math.sqrt((varianceA + varianceB) / 2);
}

function resampledPairedD(differences: Float64Array, indices: Int32Array): number {
  let sum = 0;
  let squares = 0;
  const n = indices.length;
  for (let i = 0; i < n; i++) {
    const x = differences[indices[i]!]!;
    sum += x;
    squares += x * x;
  }
  const mean = sum / n;
  return mean / Math.sqrt((squares - n * mean * mean) / (n - 1));
}

function cosineWithUnit(difference: Float64Array, unit: Float32Array, offset: number): number {
  let dotValue = 0;
  let squares = 0;
  for (let j = 0; j < difference.length; j++) {
    dotValue += difference[j]! * unit[offset + j]!;
    squares += difference[j]! * difference[j]!;
  }
  return squares === 0 ? 0 : dotValue / Math.sqrt(squares);
}

/**
 * Model diff on per-response projections of the same prompts in variants A and B: per vector and layer,
 * unpaired and paired Cohen's d with percentile-bootstrap intervals (prompts resampled, pairs kept
 * together), Welch and paired t-tests, the cosine of the mean activation difference with the vector,
 * and each vector's peak layer. Random baseline vectors in the bank give the chance level.
 */
export function computeModelDiff(
  projected: ProjectedActivations,
  bank: VectorBank,
  options: ModelDiffOptions = {},
): ModelDiffResult {
  const { a, b } = projected;
  if (!b)
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      'A model diff needs projections of variant B as well as A: give every prompt a pathB.',
    );
  const all = options.promptIndices ?? a.promptIds.map((_, i) => i);
  const pairedIndices = all.filter((i) => projected.paired[i] === 1);
  const resamples = options.bootstrap?.resamples ?? 1000;
  const confidence = options.bootstrap?.confidence ?? 0.95;
  const seed = options.bootstrap?.seed ?? 0;
  const entries: ModelDiffEntry[] = [];
  const vectorCount = bank.vectors.length;
  const randomBaselineMaxAbsD: ModelDiffResult['randomBaselineMaxAbsD'] = [];
  bank.layers.forEach((layer, l) => {
    let difference: Float64Array | undefined;
    if (projected.meanActivations && projected.meanActivations.prompts > 0) {
      const meanA = projected.meanActivations.a[l]!;
      const meanB = projected.meanActivations.b[l]!;
      difference = new Float64Array(meanA.length);
      for (let j = 0; j < difference.length; j++) difference[j] = meanB[j]! - meanA[j]!;
    }
    let randomMax = Number.NaN;
    for (let k = 0; k < vectorCount; k++) {
      if (!bank.present[l]![k]) continue;
      const valuesA = readProjectionColumn(a, l, k, all);
      const valuesB = readProjectionColumn(b, l, k, all);
      const pairedA = readProjectionColumn(a, l, k, pairedIndices);
      const pairedB = readProjectionColumn(b, l, k, pairedIndices);
      const differences = new Float64Array(pairedA.length);
      for (let i = 0; i < differences.length; i++) differences[i] = pairedB[i]! - pairedA[i]!;
      const [dInterval] = computeBootstrapConfidenceIntervals(
        all.length,
        [(indices) => resampledCohensD(valuesB, valuesA, indices)],
        { resamples, confidence, seed },
      );
      const [pairedInterval] =
        pairedA.length > 1
          ? computeBootstrapConfidenceIntervals(
              pairedA.length,
              [(indices) => resampledPairedD(differences, indices)],
              { resamples, confidence, seed },
            )
          : [undefined];
      const meanA = computeMean(valuesA);
      const meanB = computeMean(valuesB);
      const entry: ModelDiffEntry = {
        vectorId: bank.vectors[k]!.id,
        layer,
        n: all.length,
        pairedN: pairedA.length,
        meanA,
        meanB,
        sdA: computeStandardDeviation(valuesA),
        sdB: computeStandardDeviation(valuesB),
        meanDifference: meanB - meanA,
        cohensD: computeCohensD(valuesB, valuesA),
        cohensDInterval: [dInterval!.low, dInterval!.high],
        pairedD: pairedA.length > 1 ? computePairedCohensD(pairedB, pairedA) : Number.NaN,
        pairedDInterval: pairedInterval
          ? [pairedInterval.low, pairedInterval.high]
          : [Number.NaN, Number.NaN],
        welch: computeWelchTTest(valuesB, valuesA),
        pairedT:
          pairedA.length > 1
            ? computePairedTTest(pairedB, pairedA)
            : { t: Number.NaN, degreesOfFreedom: Number.NaN, p: Number.NaN },
        meanActivationCosine: difference
          ? cosineWithUnit(difference, bank.unitVectors[l]!, k * bank.hiddenSize)
          : null,
      };
      entries.push(entry);
      if (bank.vectors[k]!.isRandomBaseline && Number.isFinite(entry.cohensD)) {
        randomMax = Number.isNaN(randomMax)
          ? Math.abs(entry.cohensD)
          : Math.max(randomMax, Math.abs(entry.cohensD));
      }
    }
    if (!Number.isNaN(randomMax)) randomBaselineMaxAbsD.push({ layer, maxAbsD: randomMax });
  });
  const peaks: ModelDiffPeak[] = [];
  for (const vector of bank.vectors) {
    let best: ModelDiffEntry | undefined;
    for (const entry of entries) {
      if (entry.vectorId !== vector.id || !Number.isFinite(entry.cohensD)) continue;
      if (!best || Math.abs(entry.cohensD) > Math.abs(best.cohensD)) best = entry;
    }
    if (!best) continue;
    peaks.push({
      vectorId: vector.id,
      trait: vector.trait,
      method: vector.method,
      isRandomBaseline: vector.isRandomBaseline,
      peakLayer: best.layer,
      cohensD: best.cohensD,
      cohensDInterval: best.cohensDInterval,
      pairedD: best.pairedD,
      p: best.welch.p,
      meanActivationCosine: best.meanActivationCosine,
    });
  }
  return {
    subset: options.subset ?? 'all',
    promptCount: all.length,
    pairedCount: pairedIndices.length,
    bootstrap: { resamples, confidence, seed },
    entries,
    peaks,
    randomBaselineMaxAbsD,
  };
}
