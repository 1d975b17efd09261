import { TraitlensError } from '@traitlens/core';
import type { ProjectedActivations } from '../projections/project-activation-files';
import { type ProjectionTable, readProjectionColumn } from '../projections/projection-table';
import type { VectorBank } from '../projections/vector-bank';
import { adjustPValuesBenjaminiHochberg, adjustPValuesHolm } from '../stats/adjust-p-values';
import {
  type BootstrapOptions,
  computeBootstrapConfidenceIntervals,
} from '../stats/bootstrap-confidence-interval';
import { computeCohensD, computePairedCohensD } from '../stats/cohens-d';
import { adjustForBestOf, computeEmpiricalPValue } from '../stats/empirical-p-value';
import { computePairedTTest } from '../stats/paired-t-test';
import { computeMean, computeStandardDeviation } from '../stats/sample-statistics';
import { computeWelchTTest, type TTestResult } from '../stats/welch-t-test';
import {
  computeWilcoxonSignedRankTest,
  type WilcoxonSignedRankResult,
} from '../stats/wilcoxon-signed-rank-test';
import {
  computeRandomDirectionNull,
  type RandomDirectionNull,
  type RandomDirectionNullDraws,
} from './random-direction-null';

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
  /** mean(B - A) / sd(B - A) over paired prompts; null (NaN) when undefined (no pairs, or every difference 0). */
  pairedD: number;
  pairedDInterval: [number, number];
  /** Unpaired, secondary for paired designs. */
  welch: TTestResult;
  pairedT: TTestResult;
  /** Wilcoxon signed-rank test of the paired differences (the rank-based check on the paired t-test). */
  wilcoxon: WilcoxonSignedRankResult;
  /** The primary test: the paired t-test when at least 2 prompts are paired (same tokens in A and B), else Welch. */
  primaryTest: 'paired-t' | 'welch';
  /**
   * The effect size findings are ranked by and the random null is of: cohensD, i.e. for paired prompts
   * mean(B - A) over the pooled sd of the projections (d_av). Unlike pairedD (d_z) it grows with the size
   * of the shift along the vector relative to how the vector's projection varies across prompts; d_z is
   * the same for every direction a rank-one change moves (a LoRA that shifts everything by a per-prompt
   * amount gives random directions as large a d_z as the trait).
   */
  effectSize: number;
  /** p of the primary test. */
  p: number;
  /** Holm (family-wise) and Benjamini-Hochberg (false-discovery) adjusted p over every trait x method x layer of this subset. */
  pHolm: number;
  pBenjaminiHochberg: number;
  /** Share of random directions whose |cohensD| at this layer reaches this one's (no layer selection). */
  randomNullP: number | null;
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
  /** cohensD at the peak (the layer of largest |cohensD|), the statistic of the random null. */
  effectSize: number;
  primaryTest: 'paired-t' | 'welch';
  /** Primary p at the peak, unadjusted; Welch p kept as a secondary number. */
  p: number;
  welchP: number;
  wilcoxonP: number;
  pHolm: number;
  pBenjaminiHochberg: number;
  meanActivationCosine: number | null;
  /**
   * Empirical p of the peak's |effect size| against the random directions' maximum over the same layers
   * (the best-layer choice inside the null); null without a random null.
   */
  randomNullP: number | null;
  /** randomNullP with the trait's best-of-M-methods choice paid for too: 1 - (1 - p)^M. */
  traitRandomNullP: number | null;
  /**
   * The trait's null p (its smallest traitRandomNullP) Holm-adjusted over all traits, so that with many
   * traits the chance that any of them beats the null by luck stays below alpha.
   */
  traitRandomNullPHolm: number | null;
  /**
   * Holm-adjusted parametric p < alpha AND traitRandomNullP < alpha AND traitRandomNullPHolm < alpha.
   * Random vectors are never findings.
   */
  finding: boolean;
  /** Why it is not a finding ("not distinguishable from chance: ..."); null for findings. */
  reason: string | null;
}

export interface ModelDiffResult {
  subset: string;
  promptCount: number;
  pairedCount: number;
  bootstrap: { resamples: number; confidence: number; seed: number };
  entries: ModelDiffEntry[];
  peaks: ModelDiffPeak[];
  /** Per layer: the largest |d| any random baseline vector reached (few vectors: a rough look only). */
  randomBaselineMaxAbsD: { layer: number; maxAbsD: number }[];
  /** The random-direction null of the primary effect size; null when no random directions or vectors exist. */
  randomNull: RandomDirectionNull | null;
  /** Significance level of the findings rule. */
  alpha: number;
  /** Tests in the Holm / Benjamini-Hochberg family (trait vectors x layers with a finite p). */
  familySize: number;
}

export interface ModelDiffOptions {
  bootstrap?: BootstrapOptions;
  /** Restrict to these prompt positions (e.g. train-bias prompts) and name the subset. */
  promptIndices?: readonly number[];
  subset?: string;
  /** Significance level for findings (default 0.05). */
  alpha?: number;
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

/** What every entry of one model diff shares: the tables, the compared prompts and the bootstrap. */
interface DiffContext {
  projected: ProjectedActivations;
  a: ProjectionTable;
  b: ProjectionTable;
  bank: VectorBank;
  /** The compared prompts, and those of them paired (same tokens in A and B). */
  all: readonly number[];
  pairedIndices: readonly number[];
  bootstrap: { resamples: number; confidence: number; seed: number };
}

/** mean activation of B - mean activation of A at layer position `l`; undefined without paired prompts. */
function meanActivationDifference(projected: ProjectedActivations, l: number): Float64Array | undefined {
  const means = projected.meanActivations;
  if (!means || !(means.prompts > 0)) return undefined;
  const meanA = means.a[l]!;
  const meanB = means.b[l]!;
  const difference = new Float64Array(meanA.length);
  for (let j = 0; j < difference.length; j++) difference[j] = meanB[j]! - meanA[j]!;
  return difference;
}

/** Where an entry is: layer, its position, the vector's index, the layer's mean activation difference. */
interface EntryPosition {
  layer: number;
  l: number;
  k: number;
  difference: Float64Array | undefined;
}

/** B against A for one vector at one layer (adjusted and null p filled in later). */
function diffEntry(context: DiffContext, { layer, l, k, difference }: EntryPosition): ModelDiffEntry {
  const { a, b, bank, all, pairedIndices, bootstrap } = context;
  const valuesA = readProjectionColumn(a, l, k, all);
  const valuesB = readProjectionColumn(b, l, k, all);
  const pairedA = readProjectionColumn(a, l, k, pairedIndices);
  const pairedB = readProjectionColumn(b, l, k, pairedIndices);
  const differences = new Float64Array(pairedA.length);
  for (let i = 0; i < differences.length; i++) differences[i] = pairedB[i]! - pairedA[i]!;
  const [dInterval] = computeBootstrapConfidenceIntervals(
    all.length,
    [(indices) => resampledCohensD(valuesB, valuesA, indices)],
    bootstrap,
  );
  const [pairedInterval] =
    pairedA.length > 1
      ? computeBootstrapConfidenceIntervals(
          pairedA.length,
          [(indices) => resampledPairedD(differences, indices)],
          bootstrap,
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
    pairedDInterval: pairedInterval ? [pairedInterval.low, pairedInterval.high] : [Number.NaN, Number.NaN],
    welch: computeWelchTTest(valuesB, valuesA),
    pairedT:
      pairedA.length > 1
        ? computePairedTTest(pairedB, pairedA)
        : { t: Number.NaN, degreesOfFreedom: Number.NaN, p: Number.NaN },
    wilcoxon: computeWilcoxonSignedRankTest(pairedB, pairedA),
    primaryTest: pairedA.length > 1 ? 'paired-t' : 'welch',
    effectSize: Number.NaN,
    p: Number.NaN,
    pHolm: Number.NaN,
    pBenjaminiHochberg: Number.NaN,
    randomNullP: null,
    meanActivationCosine: difference
      ? cosineWithUnit(difference, bank.unitVectors[l]!, k * bank.hiddenSize)
      : null,
  };
  entry.effectSize = entry.cohensD;
  entry.p = entry.primaryTest === 'paired-t' ? entry.pairedT.p : entry.welch.p;
  return entry;
}

/** Every present vector at every layer, and per layer the largest |d| of a random baseline vector. */
function diffEntries(context: DiffContext): Pick<ModelDiffResult, 'entries' | 'randomBaselineMaxAbsD'> {
  const { bank } = context;
  const entries: ModelDiffEntry[] = [];
  const randomBaselineMaxAbsD: ModelDiffResult['randomBaselineMaxAbsD'] = [];
  bank.layers.forEach((layer, l) => {
    const difference = meanActivationDifference(context.projected, l);
    const present = bank.present[l]!;
    let randomMax = Number.NaN;
    bank.vectors.forEach((vector, k) => {
      if (!present[k]) return;
      const entry = diffEntry(context, { layer, l, k, difference });
      entries.push(entry);
      if (vector.isRandomBaseline && Number.isFinite(entry.cohensD)) {
        randomMax = Number.isNaN(randomMax)
          ? Math.abs(entry.cohensD)
          : Math.max(randomMax, Math.abs(entry.cohensD));
      }
    });
    if (!Number.isNaN(randomMax)) randomBaselineMaxAbsD.push({ layer, maxAbsD: randomMax });
  });
  return { entries, randomBaselineMaxAbsD };
}

/** Holm and Benjamini-Hochberg adjusted p over the family (trait vectors' entries with a p); returns it. */
function adjustEntryPValues(entries: readonly ModelDiffEntry[], bank: VectorBank): ModelDiffEntry[] {
  const isTrait = new Map(bank.vectors.map((vector) => [vector.id, !vector.isRandomBaseline]));
  const family = entries.filter((entry) => isTrait.get(entry.vectorId) && !Number.isNaN(entry.p));
  const holm = adjustPValuesHolm(family.map((entry) => entry.p));
  const benjaminiHochberg = adjustPValuesBenjaminiHochberg(family.map((entry) => entry.p));
  family.forEach((entry, i) => {
    entry.pHolm = holm[i]!;
    entry.pBenjaminiHochberg = benjaminiHochberg[i]!;
  });
  return family;
}

/** Each entry's empirical p against the random directions at its own layer. */
function setEntryNullP(
  entries: readonly ModelDiffEntry[],
  bank: VectorBank,
  draws: RandomDirectionNullDraws,
): void {
  const layerPosition = new Map(bank.layers.map((layer, l) => [layer, l]));
  const count = draws.summary.directions;
  for (const entry of entries) {
    const l = layerPosition.get(entry.layer)!;
    entry.randomNullP = computeEmpiricalPValue(
      Math.abs(entry.effectSize),
      draws.absolute.subarray(l * count, (l + 1) * count),
    );
  }
}

/** Per trait: how many of the bank's (non-random) vectors are its methods. */
function countMethodsPerTrait(bank: VectorBank): Map<string, number> {
  const methodsPerTrait = new Map<string, number>();
  for (const vector of bank.vectors)
    if (!vector.isRandomBaseline)
      methodsPerTrait.set(vector.trait, (methodsPerTrait.get(vector.trait) ?? 0) + 1);
  return methodsPerTrait;
}

/** Per vector with a finite effect size somewhere: its peak (not yet judged a finding). */
function findPeaks(
  bank: VectorBank,
  entries: readonly ModelDiffEntry[],
  draws: RandomDirectionNullDraws | undefined,
  methodsPerTrait: ReadonlyMap<string, number>,
): ModelDiffPeak[] {
  const peaks: ModelDiffPeak[] = [];
  for (const vector of bank.vectors) {
    let best: ModelDiffEntry | undefined;
    for (const entry of entries) {
      if (entry.vectorId !== vector.id || !Number.isFinite(entry.effectSize)) continue;
      if (!best || Math.abs(entry.effectSize) > Math.abs(best.effectSize)) best = entry;
    }
    if (!best) continue;
    const randomNullP = draws ? computeEmpiricalPValue(Math.abs(best.effectSize), draws.maxima) : null;
    const traitRandomNullP =
      randomNullP === null ? null : adjustForBestOf(randomNullP, methodsPerTrait.get(vector.trait) ?? 1);
    peaks.push({
      vectorId: vector.id,
      trait: vector.trait,
      method: vector.method,
      isRandomBaseline: vector.isRandomBaseline,
      peakLayer: best.layer,
      cohensD: best.cohensD,
      cohensDInterval: best.cohensDInterval,
      pairedD: best.pairedD,
      effectSize: best.effectSize,
      primaryTest: best.primaryTest,
      p: best.p,
      welchP: best.welch.p,
      wilcoxonP: best.wilcoxon.p,
      pHolm: best.pHolm,
      pBenjaminiHochberg: best.pBenjaminiHochberg,
      meanActivationCosine: best.meanActivationCosine,
      randomNullP,
      traitRandomNullP,
      traitRandomNullPHolm: null,
      finding: false,
      reason: null,
    });
  }
  return peaks;
}

/** The null p of each trait (its best method), Holm-adjusted over the traits. */
function holmAdjustTraitNullP(peaks: readonly ModelDiffPeak[]): Map<string, number> {
  const traitP = new Map<string, number>();
  for (const peak of peaks)
    if (!peak.isRandomBaseline && peak.traitRandomNullP !== null)
      traitP.set(peak.trait, Math.min(traitP.get(peak.trait) ?? 1, peak.traitRandomNullP));
  const traitNames = [...traitP.keys()];
  const traitPValues = [...traitP.values()];
  return new Map(Array.from(adjustPValuesHolm(traitPValues), (p, i) => [traitNames[i]!, p]));
}

/** What the findings rule compares a peak with. */
interface FindingRule {
  alpha: number;
  /** Tests in the Holm family of the parametric p. */
  familySize: number;
  /** Traits in the Holm adjustment of the null p. */
  traitCount: number;
  layerCount: number;
  methodsPerTrait: ReadonlyMap<string, number>;
  /** How the null's statistic reads in a reason ('d' or 'paired d'). */
  statisticName: string;
}

/** Why a peak is not a finding; empty for a finding. */
function findingReasons(peak: ModelDiffPeak, rule: FindingRule): string[] {
  const { alpha } = rule;
  if (peak.isRandomBaseline) return ['a random control vector'];
  const reasons: string[] = [];
  const methods = rule.methodsPerTrait.get(peak.trait) ?? 1;
  if (!(peak.pHolm < alpha))
    reasons.push(`Holm-adjusted p ${formatP(peak.pHolm)} >= ${alpha} over ${rule.familySize} tests`);
  const nullP = peak.traitRandomNullP;
  const nullPHolm = peak.traitRandomNullPHolm;
  if (nullP === null || nullPHolm === null) reasons.push('no random-direction null to compare with');
  else if (!(nullP < alpha) || !(nullPHolm < alpha))
    reasons.push(
      `random directions reach |${rule.statisticName}| ${Math.abs(peak.effectSize).toFixed(2)} (null p ${formatP(nullP)}, best of ${rule.layerCount} layers${methods > 1 ? ` x ${methods} methods` : ''}; ${formatP(nullPHolm)} after Holm over ${rule.traitCount} traits)`,
    );
  return reasons;
}

/** Fills in each peak's trait-level Holm null p, whether it is a finding, and why not. */
function judgePeaks(peaks: readonly ModelDiffPeak[], rule: Omit<FindingRule, 'traitCount'>): void {
  const traitHolm = holmAdjustTraitNullP(peaks);
  for (const peak of peaks) {
    peak.traitRandomNullPHolm = traitHolm.get(peak.trait) ?? null;
    const reasons = findingReasons(peak, { ...rule, traitCount: traitHolm.size });
    peak.finding = reasons.length === 0;
    peak.reason = reasons.length === 0 ? null : `not distinguishable from chance: ${reasons.join('; ')}`;
  }
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
  const bootstrap = {
    resamples: options.bootstrap?.resamples ?? 1000,
    confidence: options.bootstrap?.confidence ?? 0.95,
    seed: options.bootstrap?.seed ?? 0,
  };
  const { entries, randomBaselineMaxAbsD } = diffEntries({
    projected,
    a,
    b,
    bank,
    all,
    pairedIndices,
    bootstrap,
  });
  const alpha = options.alpha ?? 0.05;
  const family = adjustEntryPValues(entries, bank);
  const draws = computeNull(projected, bank, all, pairedIndices);
  if (draws) setEntryNullP(entries, bank, draws);
  const methodsPerTrait = countMethodsPerTrait(bank);
  const peaks = findPeaks(bank, entries, draws, methodsPerTrait);
  judgePeaks(peaks, {
    alpha,
    familySize: family.length,
    layerCount: bank.layers.length,
    methodsPerTrait,
    statisticName: draws?.summary.statistic === 'pairedD' ? 'paired d' : 'd',
  });
  return {
    subset: options.subset ?? 'all',
    promptCount: all.length,
    pairedCount: pairedIndices.length,
    bootstrap,
    entries,
    peaks,
    randomBaselineMaxAbsD,
    randomNull: draws?.summary ?? null,
    alpha,
    familySize: family.length,
  };
}

function formatP(p: number): string {
  if (Number.isNaN(p)) return 'undefined';
  return p < 0.001 ? p.toExponential(1) : p.toPrecision(2);
}

/**
 * The random-direction null from the projections onto random directions when they were taken, else from
 * the bank's random baseline vectors (which are projected like traits, so any aggregation works).
 */
function computeNull(
  projected: ProjectedActivations,
  bank: VectorBank,
  indices: readonly number[],
  pairedIndices: readonly number[],
): RandomDirectionNullDraws | undefined {
  const layerCount = bank.layers.length;
  const random = projected.random;
  if (random?.b) {
    const count = random.count;
    const tables = { a: random.a, b: random.b };
    return computeRandomDirectionNull({
      source: 'random-directions',
      directions: count,
      seed: random.seed,
      layers: bank.layers,
      indices,
      pairedIndices,
      read: (variant, prompt, l, r) => tables[variant][(prompt * layerCount + l) * count + r]!,
    });
  }
  const randomVectors = bank.vectors.flatMap((vector, k) => (vector.isRandomBaseline ? [k] : []));
  if (randomVectors.length === 0 || !projected.b) return undefined;
  const vectorCount = bank.vectors.length;
  const tables = { a: projected.a.values, b: projected.b.values };
  return computeRandomDirectionNull({
    source: 'random-baseline-vectors',
    directions: randomVectors.length,
    seed: null,
    layers: bank.layers,
    indices,
    pairedIndices,
    read: (variant, prompt, l, r) =>
      tables[variant][(prompt * layerCount + l) * vectorCount + randomVectors[r]!]!,
  });
}
