import { readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import {
  type ActivationPart,
  experimentLayout,
  readTraitVectors,
  removeStaleTemporaryFiles,
  TraitlensError,
} from '@traitlens/core';
import { type DetectionResult, runDetection } from '../detection/run-detection';
import { computeModelDiff, type ModelDiffResult } from '../diff/compute-model-diff';
import type { RandomDirectionNull } from '../diff/random-direction-null';
import { computeVectorConsistency } from '../predictivity/compute-vector-consistency';
import {
  measurePredictivity,
  type PredictivitySet,
  summarizePredictivity,
} from '../predictivity/measure-predictivity';
import { type ExploitAnnotations, parseExploitAnnotations } from '../projections/exploit-annotations';
import {
  type ActivationFilePair,
  type ProjectedActivations,
  projectActivationFiles,
} from '../projections/project-activation-files';
import {
  formatResponseAggregation,
  type ProjectionMeasure,
  type ProjectionSettings,
  type ResponseAggregation,
} from '../projections/projection-settings';
import type { ProjectionTable } from '../projections/projection-table';
import { createRandomDirections } from '../projections/random-directions';
import { readProjectionFileColumns } from '../projections/read-projection-file';
import { readTokenProjectionSeries } from '../projections/summarize-token-projections';
import {
  createVectorBank,
  createVectorBankFromProjectionColumns,
  type VectorBank,
  type VectorBankEntry,
} from '../projections/vector-bank';
import type {
  DetectionFile,
  ModelDiffFile,
  PredictivityFile,
  ProjectionsFile,
  TokenViewFile,
  TokenViewPrompt,
  VectorConsistencyFile,
} from './analysis-files';
import {
  evaluateSuccessCriteria,
  type SuccessCriterionVerdict,
  summarizeTraits,
  type TraitModelDiff,
} from './evaluate-success-criteria';
import { findExperimentVectors } from './find-experiment-vectors';
import { listActivationFiles } from './list-activation-files';
import { type PromptGroup, parsePromptGroups, readTwinGroup } from './read-prompt-groups';
import { parsePromptLabels, readJsonFile } from './read-prompt-labels';
import { roundSignificant, writeAnalysisJson } from './write-analysis-json';

export const analysisFormatVersion = '1';

/** Which per-response values the detector and predictivity read. */
export type DetectionFeatures = 'a' | 'b' | 'difference';

export interface AnalyzeExperimentOptions {
  /** The experiment directory (`experiments/<name>`). */
  experiment: string;
  /** Reference variant (e.g. the clean model). */
  variantA: string;
  /** Variant compared against A (e.g. the LoRA model organism); without it only projections, detection and predictivity run. */
  variantB?: string;
  promptSets: readonly string[];
  /** Trait names or category/trait to analyse (default: every trait with vectors). */
  traits?: readonly string[];
  /** Extraction methods to use (default: all but random_baseline). */
  methods?: readonly string[];
  /** Explicit vector files instead of (not in addition to) the experiment's extraction folders. */
  vectorFiles?: readonly string[];
  layers?: readonly number[];
  measure?: ProjectionMeasure;
  centred?: boolean;
  aggregation?: ResponseAggregation;
  part?: ActivationPart;
  /** Labels per prompt id: a labels file, judge scores, or an annotation file (see readPromptLabels). */
  labelsFile?: string;
  labelThreshold?: number;
  /** Exploit-span annotations `{prompt_id: {exploitations: [{tokens: [start, end)}]}}`; also labels when no labels file is given. */
  annotationsFile?: string;
  /** Prompt-set files giving each prompt's bias id: `path` (one prompt set) or `<prompt set>=path`. */
  promptFiles?: readonly string[];
  /** Bias ids to train the detector on; other labelled groups are held out (default: ids whose prompts say split "train"). */
  trainGroups?: readonly number[];
  /** Detection/predictivity features: B's projections (default with B), A's, or B - A. */
  detectionFeatures?: DetectionFeatures;
  /** Random unit vectors per layer projected alongside as chance-level controls (default 8). */
  randomBaselines?: number;
  /**
   * Random directions of the model diff's null (default 1000; 0: use the random baseline vectors only).
   * Each response's aggregated activation is projected onto them, exact for every aggregation but `max`.
   */
  randomDirections?: number;
  /** Significance level of findings and verdicts (default 0.05). */
  alpha?: number;
  bootstrapResamples?: number;
  permutations?: number;
  folds?: number;
  seed?: number;
  /** How many prompts (or which prompt ids) keep per-token projections for the token view (default 12). */
  tokenViewPrompts?: number | readonly string[];
  /** Out-of-distribution prompt sets (projected for the detection variant) with their own labels, for predictivity. */
  outOfDistribution?: { promptSets: readonly string[]; labelsFile: string };
  /** Where to write (default `<experiment>/analysis`). */
  outputDirectory?: string;
  readAhead?: number;
  /** Threads projecting in parallel (default: available parallelism, at most 8; 1 = no workers). */
  threads?: number;
  /**
   * `activations`: activation files (default when variant A has an activations folder). `projections`:
   * capture's projection files (per-token projections taken during capture, when activations were not
   * stored); the vectors are then the files' columns and random controls exist only if captured.
   */
  source?: 'activations' | 'projections';
  onProgress?: (stage: string, done: number, total: number) => void;
}

export interface AnalysisSummary {
  format: 'traitlens.analysis';
  formatVersion: string;
  createdAt: string;
  variants: { a: string; b: string | null };
  promptSets: string[];
  prompts: {
    analysed: number;
    paired: number;
    onlyInA: number;
    onlyInB: number;
    labelled: number;
    positives: number;
    annotated: number;
    grouped: number;
  };
  projection: {
    site: string;
    measure: ProjectionMeasure;
    centred: boolean;
    aggregation: string;
    part: ActivationPart;
    layers: number[];
    hiddenSize: number;
    /** What was read: activation files, or capture's projection files. */
    source: 'activations' | 'projections';
  };
  vectors: {
    id: string;
    trait: string;
    method: string;
    category: string | null;
    source: string | null;
    isRandomBaseline: boolean;
  }[];
  detectionFeatures: DetectionFeatures | null;
  files: Record<string, string>;
  /** How conclusions were drawn: the significance level, the multiple-comparison family, the random null. */
  statistics: {
    alpha: number;
    familySize: number | null;
    randomNull: RandomDirectionNull | null;
  };
  highlights: {
    /** Findings only: survive Holm at alpha AND beat the random-direction null; strongest first. */
    modelDiff: ModelDiffHighlight[];
    /** Every other trait vector, with the reason it is not distinguishable from chance. */
    notDistinguishable: ModelDiffHighlight[];
    /** Per trait: its strongest vector and whether it is a finding. */
    traits: TraitModelDiff[];
    detection: {
      layer: number;
      /** Nested (layer chosen inside the training folds), grouped where prompts carry groups. */
      cvAuroc: number;
      cvAurocInterval: [number, number];
      cvAccuracy: number;
      majorityRate: number;
      validation: string;
      randomCvAuroc: number;
      permutationP: number | null;
      permutationScheme: string | null;
      heldOutAuroc: number | null;
      heldOutAurocInterval: [number, number] | null;
    } | null;
  };
  /** The study's success criteria, pass/fail with the numbers behind each. */
  verdict: SuccessCriterionVerdict[];
  elapsedSeconds: number;
}

export interface ModelDiffHighlight {
  vectorId: string;
  trait: string;
  method: string;
  peakLayer: number;
  cohensD: number;
  pairedD: number;
  /** Primary effect size (pairedD for paired designs, else cohensD). */
  effectSize: number;
  primaryTest: 'paired-t' | 'welch';
  /** Primary p (paired t where paired), unadjusted. */
  p: number;
  pHolm: number;
  pBenjaminiHochberg: number;
  wilcoxonP: number;
  welchP: number;
  randomNullP: number | null;
  traitRandomNullP: number | null;
  traitRandomNullPHolm: number | null;
  /** 95th percentile of the random directions' best-layer |effect size|: the bar a finding clears. */
  randomNull95: number | null;
  /** Largest |d| of the bank's few random baseline vectors at the peak layer (a rough look). */
  randomMaxAbsD: number | null;
  finding: boolean;
  reason: string | null;
}

interface PromptEntry {
  key: string;
  promptSet: string;
  promptId: string;
  pathA: string;
  pathB?: string;
  /** Where the prompt's texts and token strings may be: the activation file's twin, capture's response file. */
  twinPaths: string[];
}

/** Looks a prompt up by `set/id`, falling back to the bare id only where that id is unique across sets. */
function lookup<T>(
  map: Map<string, T> | undefined,
  prompt: PromptEntry,
  uniqueIds: Set<string>,
): T | undefined {
  if (!map) return undefined;
  return map.get(prompt.key) ?? (uniqueIds.has(prompt.promptId) ? map.get(prompt.promptId) : undefined);
}

async function loadBank(
  options: AnalyzeExperimentOptions,
  source: 'activations' | 'projections',
): Promise<VectorBank> {
  if (source === 'projections') {
    if (options.vectorFiles && options.vectorFiles.length > 0) {
      throw new TraitlensError(
        'INVALID_ARGUMENT',
        'Projection files carry the projections onto the vectors they were captured with; drop --vectors (or analyse activation files).',
      );
    }
    const first = (
      await listActivationFiles(options.experiment, options.variantA, options.promptSets[0]!, 'projections')
    )
      .values()
      .next().value as string;
    const { columns, hiddenSize } = await readProjectionFileColumns(first);
    return createVectorBankFromProjectionColumns(columns, hiddenSize, {
      ...(options.layers ? { layers: options.layers } : {}),
      ...(options.traits ? { traits: options.traits } : {}),
      ...(options.methods ? { methods: options.methods } : {}),
      source: relative(options.experiment, first),
    });
  }
  const entries: VectorBankEntry[] = [];
  if (options.vectorFiles && options.vectorFiles.length > 0) {
    for (const path of options.vectorFiles) {
      const set = await readTraitVectors(path);
      const trait = set.metadata.trait;
      // Vector files may name the trait with or without its category.
      if (
        options.traits &&
        !options.traits.some(
          (wanted) => wanted === trait || trait.endsWith(`/${wanted}`) || wanted.endsWith(`/${trait}`),
        )
      )
        continue;
      entries.push({ set, source: relative(options.experiment, path) });
    }
  } else {
    const found = await findExperimentVectors(options.experiment, {
      ...(options.traits ? { traits: options.traits } : {}),
      ...(options.methods ? { methods: options.methods } : {}),
    });
    for (const file of found) {
      entries.push({
        set: await readTraitVectors(file.path),
        trait: file.trait,
        category: file.category,
        source: relative(options.experiment, file.path),
      });
    }
  }
  if (entries.length === 0) {
    throw new TraitlensError(
      'FILE_NOT_FOUND',
      `No trait vectors to analyse: none under ${join(options.experiment, 'extraction')}/<category>/<trait>/vectors/ matched${options.traits ? ` traits ${options.traits.join(', ')}` : ''}. Run extraction or pass --vectors <file...>.`,
      { details: { experiment: options.experiment } },
    );
  }
  return createVectorBank(entries, {
    ...(options.layers ? { layers: options.layers } : {}),
    randomBaselines: options.randomBaselines ?? 8,
    seed: options.seed ?? 0,
  });
}

async function collectPrompts(
  options: AnalyzeExperimentOptions,
  promptSets: readonly string[],
  withB: boolean,
  source: 'activations' | 'projections',
): Promise<{ prompts: PromptEntry[]; onlyInA: string[]; onlyInB: string[] }> {
  const prompts: PromptEntry[] = [];
  const onlyInA: string[] = [];
  const onlyInB: string[] = [];
  for (const promptSet of promptSets) {
    const filesA = await listActivationFiles(options.experiment, options.variantA, promptSet, source);
    const filesB =
      withB && options.variantB
        ? await listActivationFiles(options.experiment, options.variantB, promptSet, source)
        : undefined;
    const responses = experimentLayout(options.experiment).inference(options.variantA, promptSet).responses;
    const key = (id: string) => (promptSets.length > 1 ? `${promptSet}/${id}` : id);
    for (const [promptId, pathA] of filesA) {
      const pathB = filesB?.get(promptId);
      if (filesB && !pathB) {
        onlyInA.push(key(promptId));
        continue;
      }
      const twinPaths = [
        ...(source === 'activations' ? [pathA.replace(/\.safetensors$/, '.json')] : []),
        join(responses, `${promptId}.json`),
      ];
      const entry: PromptEntry = { key: key(promptId), promptSet, promptId, pathA, twinPaths };
      if (pathB) entry.pathB = pathB;
      prompts.push(entry);
    }
    if (filesB) for (const promptId of filesB.keys()) if (!filesA.has(promptId)) onlyInB.push(key(promptId));
  }
  if (prompts.length === 0) {
    throw new TraitlensError(
      'INSUFFICIENT_DATA',
      `No prompt has activations in both variants "${options.variantA}" and "${options.variantB}" for prompt sets ${promptSets.join(', ')}; capture the same prompts for both.`,
      { details: { onlyInA: onlyInA.length, onlyInB: onlyInB.length } },
    );
  }
  return { prompts, onlyInA, onlyInB };
}

async function readTwin(prompt: PromptEntry): Promise<Record<string, unknown> | undefined> {
  for (const path of prompt.twinPaths) {
    try {
      return JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
    } catch {
      // Not there (or not JSON): try the next place.
    }
  }
  return undefined;
}

async function readGroups(
  options: AnalyzeExperimentOptions,
  prompts: PromptEntry[],
): Promise<Map<string, PromptGroup>> {
  const byKey = new Map<string, PromptGroup>();
  if (options.promptFiles && options.promptFiles.length > 0) {
    for (const spec of options.promptFiles) {
      const equals = spec.indexOf('=');
      const promptSet = equals > 0 ? spec.slice(0, equals) : undefined;
      const path = equals > 0 ? spec.slice(equals + 1) : spec;
      if (!promptSet && options.promptSets.length > 1) {
        throw new TraitlensError(
          'INVALID_ARGUMENT',
          `With several prompt sets, name the set of each prompt file: --prompt-file <prompt set>=${path}.`,
          { details: { file: path } },
        );
      }
      const groups = parsePromptGroups(await readJsonFile(path, 'Prompt set'), path);
      for (const prompt of prompts) {
        if (promptSet && prompt.promptSet !== promptSet) continue;
        const group = groups.get(prompt.promptId);
        if (group) byKey.set(prompt.key, group);
      }
    }
    return byKey;
  }
  for (const prompt of prompts) {
    const twin = await readTwin(prompt);
    const group = twin ? readTwinGroup(twin) : undefined;
    if (group) byKey.set(prompt.key, group);
  }
  return byKey;
}

/** Which prompts keep per-token projections: annotated exploits first, then positives, negatives, the rest. */
function selectTokenViewPrompts(
  prompts: PromptEntry[],
  wanted: number | readonly string[],
  labels: Float64Array,
  annotations: ExploitAnnotations | undefined,
  uniqueIds: Set<string>,
): Set<string> {
  if (typeof wanted !== 'number')
    return new Set(
      prompts.filter((p) => wanted.includes(p.key) || wanted.includes(p.promptId)).map((p) => p.key),
    );
  const rank = (prompt: PromptEntry, index: number): number => {
    const spans = lookup(annotations, prompt, uniqueIds);
    if (spans && spans.length > 0) return 0;
    if (labels[index] === 1) return 1;
    if (labels[index] === 0) return 2;
    return 3;
  };
  const ranked = prompts.map((prompt, index) => ({ prompt, rank: rank(prompt, index) }));
  const chosen: PromptEntry[] = [];
  // Half from the most interesting class, the rest spread over the others, so the view shows a contrast.
  for (const level of [0, 1, 2, 3]) {
    const quota = level === 3 ? wanted : Math.ceil(wanted / 2);
    for (const { prompt } of ranked.filter((entry) => entry.rank === level).slice(0, quota)) {
      if (chosen.length < wanted) chosen.push(prompt);
    }
  }
  return new Set(chosen.map((prompt) => prompt.key));
}

function differenceTable(a: ProjectionTable, b: ProjectionTable): ProjectionTable {
  const values = new Float64Array(a.values.length);
  for (let i = 0; i < values.length; i++) values[i] = b.values[i]! - a.values[i]!;
  return { ...a, variant: `${b.variant}-minus-${a.variant}`, values };
}

function projectionsJson(
  projected: ProjectedActivations,
  bank: VectorBank,
  prompts: PromptEntry[],
  settings: ProjectionSettings,
): ProjectionsFile {
  const vectorCount = bank.vectors.length;
  const layerCount = bank.layers.length;
  const nested = (table: ProjectionTable) =>
    bank.vectors.map((_, k) =>
      bank.layers.map((_, l) =>
        prompts.map((_, p) => roundSignificant(table.values[(p * layerCount + l) * vectorCount + k]!, 7)),
      ),
    );
  return {
    format: 'traitlens.analysis.projections',
    formatVersion: analysisFormatVersion,
    measure: settings.measure,
    centred: settings.centred,
    aggregation: formatResponseAggregation(settings.aggregation),
    part: settings.part,
    promptIds: prompts.map((p) => p.key),
    layers: bank.layers,
    vectorIds: bank.vectors.map((v) => v.id),
    tokenCounts: {
      a: Array.from(projected.a.tokenCounts),
      ...(projected.b ? { b: Array.from(projected.b.tokenCounts) } : {}),
    },
    paired: projected.b ? Array.from(projected.paired) : null,
    values: { a: nested(projected.a), ...(projected.b ? { b: nested(projected.b) } : {}) },
  };
}

async function tokenViewJson(
  projected: ProjectedActivations,
  bank: VectorBank,
  prompts: PromptEntry[],
  settings: ProjectionSettings,
  labels: Float64Array,
  annotations: ExploitAnnotations | undefined,
  groups: Map<string, PromptGroup>,
  uniqueIds: Set<string>,
): Promise<TokenViewFile> {
  const entries: TokenViewPrompt[] = [];
  // Random controls are left out token by token: they matter in aggregate, and the file stays small.
  const shown = bank.vectors.flatMap((vector, k) => (vector.isRandomBaseline ? [] : [k]));
  for (const [index, prompt] of prompts.entries()) {
    const kept = projected.tokens.get(prompt.key);
    if (!kept) continue;
    const twin = await readTwin(prompt);
    const tokenField = settings.part === 'prompt' ? 'promptTokens' : 'responseTokens';
    const twinTokens = twin?.[tokenField];
    const tokens =
      Array.isArray(twinTokens) && twinTokens.length === kept.a.tokenCount
        ? twinTokens.map(String)
        : Array.from(kept.a.tokenIds, (id) => `#${id}`);
    const series = (projections: typeof kept.a) =>
      bank.layers.map((_, l) =>
        shown.map((k) =>
          Array.from(readTokenProjectionSeries(projections, bank, settings, l, k), (value) =>
            roundSignificant(value, 4),
          ),
        ),
      );
    entries.push({
      promptId: prompt.key,
      promptText: typeof twin?.promptText === 'string' ? twin.promptText : null,
      label: Number.isNaN(labels[index]!) ? null : labels[index]!,
      group: groups.get(prompt.key)?.group ?? null,
      exploitSpans: (lookup(annotations, prompt, uniqueIds) ?? []).map((span): [number, number] => [
        span.start,
        span.end,
      ]),
      paired: projected.b ? projected.paired[index] === 1 : null,
      tokens,
      a: series(kept.a),
      b: kept.b ? series(kept.b) : null,
    });
  }
  return {
    format: 'traitlens.analysis.token-view',
    formatVersion: analysisFormatVersion,
    measure: settings.measure,
    centred: settings.centred,
    part: settings.part,
    layers: bank.layers,
    vectorIds: shown.map((k) => bank.vectors[k]!.id),
    prompts: entries,
  };
}

/**
 * Runs the whole analysis of one experiment: projections of variants A and B onto every trait vector
 * (streamed from the activation files), the model diff with bootstrap intervals (all prompts and, where
 * known, by label and by train/held-out bias), detection and predictivity against labels, vector
 * consistency and the token view; writes each as documented JSON under `analysis/` (docs/analysis.md).
 */
export async function analyzeExperiment(options: AnalyzeExperimentOptions): Promise<AnalysisSummary> {
  const started = performance.now();
  const output = options.outputDirectory ?? experimentLayout(options.experiment).analysis;
  // Temporary files of an analysis that was killed are no one's now (a live writer's are kept).
  await removeStaleTemporaryFiles(output, { recursive: true });
  const settings: ProjectionSettings = {
    measure: options.measure ?? 'cosine',
    centred: options.centred ?? false,
    aggregation: options.aggregation ?? { kind: 'mean' },
    part: options.part ?? 'response',
  };
  const seed = options.seed ?? 0;
  const source = options.source ?? (await detectSource(options));
  const bank = await loadBank(options, source);
  const hasB = options.variantB !== undefined;
  const { prompts, onlyInA, onlyInB } = await collectPrompts(options, options.promptSets, hasB, source);
  const idCounts = new Map<string, number>();
  for (const prompt of prompts) idCounts.set(prompt.promptId, (idCounts.get(prompt.promptId) ?? 0) + 1);
  const uniqueIds = new Set([...idCounts].filter(([, count]) => count === 1).map(([id]) => id));
  const annotations = options.annotationsFile
    ? parseExploitAnnotations(
        await readJsonFile(options.annotationsFile, 'Annotations'),
        options.annotationsFile,
      )
    : undefined;
  const labelMap = options.labelsFile
    ? parsePromptLabels(
        await readJsonFile(options.labelsFile, 'Labels'),
        options.labelsFile,
        options.labelThreshold === undefined ? {} : { threshold: options.labelThreshold },
      )
    : annotations
      ? new Map([...annotations].map(([id, spans]) => [id, spans.length > 0 ? (1 as const) : (0 as const)]))
      : undefined;
  const labels = Float64Array.from(prompts, (prompt) => lookup(labelMap, prompt, uniqueIds) ?? Number.NaN);
  const promptAnnotations: ExploitAnnotations | undefined = annotations
    ? new Map(
        prompts.flatMap((prompt) => {
          const spans = lookup(annotations, prompt, uniqueIds);
          return spans ? [[prompt.key, spans] as const] : [];
        }),
      )
    : undefined;
  const groups =
    labelMap || options.trainGroups || options.promptFiles
      ? await readGroups(options, prompts)
      : new Map<string, PromptGroup>();
  const tokenView = selectTokenViewPrompts(
    prompts,
    options.tokenViewPrompts ?? 12,
    labels,
    annotations,
    uniqueIds,
  );
  const pairs: ActivationFilePair[] = prompts.map((prompt) => ({
    promptId: prompt.key,
    pathA: prompt.pathA,
    ...(prompt.pathB ? { pathB: prompt.pathB } : {}),
  }));
  const directionCount = options.randomDirections ?? 1000;
  const randomDirections =
    hasB && directionCount > 0
      ? createRandomDirections({
          count: directionCount,
          hiddenSize: bank.hiddenSize,
          layers: bank.layers.length,
          seed,
        })
      : undefined;
  const alpha = options.alpha ?? 0.05;
  const projected = await projectActivationFiles(pairs, {
    bank,
    settings,
    ...(randomDirections ? { randomDirections } : {}),
    variantA: options.variantA,
    ...(options.variantB ? { variantB: options.variantB } : {}),
    ...(promptAnnotations ? { annotations: promptAnnotations } : {}),
    ...(options.readAhead ? { readAhead: options.readAhead } : {}),
    ...(options.threads ? { threads: options.threads } : {}),
    source,
    keepTokens: (key) => tokenView.has(key),
    onProgress: (done, total) => options.onProgress?.('project', done, total),
  });

  const files: Record<string, string> = {};
  await writeAnalysisJson(
    join(output, 'projections.json'),
    projectionsJson(projected, bank, prompts, settings),
    { compact: true },
  );
  files.projections = 'projections.json';

  const bootstrap = { resamples: options.bootstrapResamples ?? 1000, seed };
  let modelDiff: ModelDiffResult | undefined;
  if (projected.b) {
    options.onProgress?.('model-diff', 0, 1);
    const subsets: ModelDiffResult[] = [];
    modelDiff = computeModelDiff(projected, bank, { bootstrap, subset: 'all', alpha });
    subsets.push(modelDiff);
    const indicesWhere = (predicate: (index: number) => boolean) =>
      prompts.map((_, i) => i).filter(predicate);
    const subsetSpecs: [string, number[]][] = [];
    if (labelMap) {
      subsetSpecs.push(
        ['label=1', indicesWhere((i) => labels[i] === 1)],
        ['label=0', indicesWhere((i) => labels[i] === 0)],
      );
    }
    const trainGroups = resolveTrainGroups(options, groups);
    if (trainGroups) {
      subsetSpecs.push([
        'train-groups',
        indicesWhere((i) => trainGroups.has(groups.get(prompts[i]!.key)?.group ?? Number.NaN)),
      ]);
      subsetSpecs.push([
        'held-out-groups',
        indicesWhere((i) => {
          const group = groups.get(prompts[i]!.key)?.group;
          return group !== undefined && !trainGroups.has(group);
        }),
      ]);
    }
    for (const [name, indices] of subsetSpecs)
      if (indices.length >= 2)
        subsets.push(
          computeModelDiff(projected, bank, { bootstrap, subset: name, promptIndices: indices, alpha }),
        );
    const modelDiffFile: ModelDiffFile = {
      format: 'traitlens.analysis.model-diff',
      formatVersion: analysisFormatVersion,
      variants: { a: options.variantA, b: options.variantB ?? '' },
      measure: settings.measure,
      aggregation: formatResponseAggregation(settings.aggregation),
      trainGroups: trainGroups ? [...trainGroups].sort((x, y) => x - y) : null,
      subsets,
      tokenLevel: projected.tokenDeltas ?? [],
    };
    await writeAnalysisJson(join(output, 'model-diff.json'), modelDiffFile);
    files.modelDiff = 'model-diff.json';
    options.onProgress?.('model-diff', 1, 1);
  }

  const detectionFeatures: DetectionFeatures = options.detectionFeatures ?? (projected.b ? 'b' : 'a');
  let detection: DetectionResult | undefined;
  if (labelMap) {
    const table =
      detectionFeatures === 'a'
        ? projected.a
        : detectionFeatures === 'b'
          ? projected.b
          : projected.b
            ? differenceTable(projected.a, projected.b)
            : undefined;
    if (!table)
      throw new TraitlensError(
        'INVALID_ARGUMENT',
        `Detection features "${detectionFeatures}" need variant B (--b).`,
      );
    options.onProgress?.('detection', 0, 1);
    const trainGroups = resolveTrainGroups(options, groups);
    detection = runDetection(
      {
        table,
        vectors: bank.vectors,
        labels,
        ...(trainGroups
          ? {
              groups: prompts.map((prompt) => groups.get(prompt.key)?.group ?? null),
              trainGroups: [...trainGroups],
            }
          : {}),
      },
      {
        seed,
        ...(options.folds ? { folds: options.folds } : {}),
        ...(options.permutations !== undefined ? { permutations: options.permutations } : {}),
        ...(options.bootstrapResamples !== undefined
          ? { bootstrapResamples: options.bootstrapResamples }
          : {}),
      },
    );
    const detectionFile: DetectionFile = {
      format: 'traitlens.analysis.detection',
      formatVersion: analysisFormatVersion,
      features: detectionFeatures,
      variant: table.variant,
      ...detection,
    };
    await writeAnalysisJson(join(output, 'detection.json'), detectionFile);
    files.detection = 'detection.json';
    options.onProgress?.('detection', 1, 1);

    const sets: PredictivitySet[] = [measurePredictivity('in-distribution', table, labels)];
    if (options.outOfDistribution) {
      const ood = options.outOfDistribution;
      const variant = detectionFeatures === 'a' ? options.variantA : (options.variantB ?? options.variantA);
      const oodPrompts = (
        await collectPrompts({ ...options, variantA: variant }, ood.promptSets, false, source)
      ).prompts;
      const oodLabelMap = parsePromptLabels(
        await readJsonFile(ood.labelsFile, 'Out-of-distribution labels'),
        ood.labelsFile,
        options.labelThreshold === undefined ? {} : { threshold: options.labelThreshold },
      );
      const oodIdCounts = new Map<string, number>();
      for (const prompt of oodPrompts)
        oodIdCounts.set(prompt.promptId, (oodIdCounts.get(prompt.promptId) ?? 0) + 1);
      const oodUnique = new Set([...oodIdCounts].filter(([, count]) => count === 1).map(([id]) => id));
      const oodProjected = await projectActivationFiles(
        oodPrompts.map((prompt) => ({ promptId: prompt.key, pathA: prompt.pathA })),
        {
          bank,
          settings,
          variantA: variant,
          ...(options.threads ? { threads: options.threads } : {}),
          source,
          onProgress: (done, total) => options.onProgress?.('project-ood', done, total),
        },
      );
      sets.push(
        measurePredictivity(
          'out-of-distribution',
          oodProjected.a,
          Float64Array.from(oodPrompts, (prompt) => lookup(oodLabelMap, prompt, oodUnique) ?? Number.NaN),
        ),
      );
    }
    const predictivityFile: PredictivityFile = {
      format: 'traitlens.analysis.predictivity',
      formatVersion: analysisFormatVersion,
      measure: settings.measure,
      aggregation: formatResponseAggregation(settings.aggregation),
      features: detectionFeatures,
      sets,
      summary: summarizePredictivity(sets),
    };
    await writeAnalysisJson(join(output, 'predictivity.json'), predictivityFile);
    files.predictivity = 'predictivity.json';
  }

  if (bank.hasDirections) {
    const consistencyFile: VectorConsistencyFile = {
      format: 'traitlens.analysis.vector-consistency',
      formatVersion: analysisFormatVersion,
      layers: computeVectorConsistency(bank),
    };
    await writeAnalysisJson(join(output, 'vector-consistency.json'), consistencyFile);
    files.vectorConsistency = 'vector-consistency.json';
  }
  await writeAnalysisJson(
    join(output, 'token-view.json'),
    await tokenViewJson(projected, bank, prompts, settings, labels, promptAnnotations, groups, uniqueIds),
    { compact: true },
  );
  files.tokenView = 'token-view.json';

  const randomMax = new Map(
    modelDiff?.randomBaselineMaxAbsD.map((entry) => [entry.layer, entry.maxAbsD]) ?? [],
  );
  const highlights: ModelDiffHighlight[] = (modelDiff?.peaks ?? [])
    .filter((peak) => !peak.isRandomBaseline)
    .sort((x, y) => Math.abs(y.effectSize) - Math.abs(x.effectSize))
    .map((peak) => ({
      vectorId: peak.vectorId,
      trait: peak.trait,
      method: peak.method,
      peakLayer: peak.peakLayer,
      cohensD: peak.cohensD,
      pairedD: peak.pairedD,
      effectSize: peak.effectSize,
      primaryTest: peak.primaryTest,
      p: peak.p,
      pHolm: peak.pHolm,
      pBenjaminiHochberg: peak.pBenjaminiHochberg,
      wilcoxonP: peak.wilcoxonP,
      welchP: peak.welchP,
      randomNullP: peak.randomNullP,
      traitRandomNullP: peak.traitRandomNullP,
      traitRandomNullPHolm: peak.traitRandomNullPHolm,
      randomNull95: modelDiff?.randomNull?.maxOverLayersQ95 ?? null,
      randomMaxAbsD: randomMax.get(peak.peakLayer) ?? null,
      finding: peak.finding,
      reason: peak.reason,
    }));
  const summary: AnalysisSummary = {
    format: 'traitlens.analysis',
    formatVersion: analysisFormatVersion,
    createdAt: new Date().toISOString(),
    variants: { a: options.variantA, b: options.variantB ?? null },
    promptSets: [...options.promptSets],
    prompts: {
      analysed: prompts.length,
      paired: projected.b ? projected.paired.reduce((sum, value) => sum + value, 0) : 0,
      onlyInA: onlyInA.length,
      onlyInB: onlyInB.length,
      labelled: labels.reduce((sum, value) => sum + (Number.isNaN(value) ? 0 : 1), 0),
      positives: labels.reduce((sum, value) => sum + (value === 1 ? 1 : 0), 0),
      annotated: promptAnnotations?.size ?? 0,
      grouped: groups.size,
    },
    projection: {
      site: bank.site,
      measure: settings.measure,
      centred: settings.centred,
      aggregation: formatResponseAggregation(settings.aggregation),
      part: settings.part,
      layers: bank.layers,
      hiddenSize: bank.hiddenSize,
      source,
    },
    vectors: bank.vectors.map((vector) => ({
      id: vector.id,
      trait: vector.trait,
      method: vector.method,
      category: vector.category ?? null,
      source: vector.source ?? null,
      isRandomBaseline: vector.isRandomBaseline,
    })),
    detectionFeatures: labelMap ? detectionFeatures : null,
    files,
    statistics: {
      alpha,
      familySize: modelDiff?.familySize ?? null,
      randomNull: modelDiff?.randomNull ?? null,
    },
    highlights: {
      modelDiff: highlights.filter((peak) => peak.finding),
      notDistinguishable: highlights.filter((peak) => !peak.finding),
      traits: modelDiff ? summarizeTraits(modelDiff.peaks) : [],
      detection: detection?.best
        ? {
            layer: detection.best.layer,
            cvAuroc: detection.best.cvAuroc,
            cvAurocInterval: detection.best.cvAurocInterval,
            cvAccuracy: detection.best.cvAccuracy,
            majorityRate: detection.majorityRate,
            validation: detection.validation.scheme,
            randomCvAuroc: detection.best.randomCvAuroc,
            permutationP: detection.permutation?.pValue ?? null,
            permutationScheme: detection.permutation?.scheme ?? null,
            heldOutAuroc: detection.generalization?.testAuroc ?? null,
            heldOutAurocInterval: detection.generalization?.testAurocInterval ?? null,
          }
        : null,
    },
    verdict: evaluateSuccessCriteria({ modelDiff, detection, alpha }),
    elapsedSeconds: (performance.now() - started) / 1000,
  };
  files.summary = 'summary.json';
  await writeAnalysisJson(join(output, 'summary.json'), summary);
  return summary;
}

/** Activation files when variant A has an activations folder for the first prompt set, else projection files. */
async function detectSource(options: AnalyzeExperimentOptions): Promise<'activations' | 'projections'> {
  const folders = experimentLayout(options.experiment).inference(
    options.variantA,
    options.promptSets[0] ?? '',
  );
  const exists = async (path: string) => {
    try {
      return (await stat(path)).isDirectory();
    } catch {
      return false;
    }
  };
  return !(await exists(folders.activations)) && (await exists(folders.projections))
    ? 'projections'
    : 'activations';
}

/** Train groups: given explicitly, else the bias ids whose prompts are marked split "train". */
function resolveTrainGroups(
  options: AnalyzeExperimentOptions,
  groups: Map<string, PromptGroup>,
): Set<number> | undefined {
  if (options.trainGroups && options.trainGroups.length > 0) return new Set(options.trainGroups);
  const fromSplit = new Set(
    [...groups.values()].filter((group) => group.split === 'train').map((group) => group.group),
  );
  return fromSplit.size > 0 && fromSplit.size < new Set([...groups.values()].map((group) => group.group)).size
    ? fromSplit
    : undefined;
}
