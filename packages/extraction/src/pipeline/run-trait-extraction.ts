import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  experimentLayout,
  type FileLockOwner,
  type HookSite,
  type Judge,
  type JudgeRequest,
  layerConvention,
  removeStaleTemporaryFiles,
  TraitlensError,
  withFileLock,
  writeJsonAtomic,
} from '@traitlens/core';
import { assertLayerInRange } from '@traitlens/core/internal';
import { computeModelIdentity, type LanguageModel } from '@traitlens/model-runtime';
import type { TraitDataset } from '../dataset/trait-dataset';
import { isBlockingDatasetIssue } from '../dataset/validate-trait-dataset';
import type { SiteEvaluation, TraitEvaluation } from '../evaluation/trait-evaluation';
import type { AnyExtractionMethod } from '../methods/extraction-method';
import { createMethodRegistry, defaultExtractionMethodIds, resolveExtractionMethods } from '../methods/index';
import { traitlensVersion } from '../traitlens-version';
import { type CapturedWindowActivations, captureWindowActivations } from './capture-window-activations';
import { describeModelSource } from './describe-model-source';
import { evaluateSite } from './evaluate-site';
import { extractVectorFiles, type PlannedMethod, type VectorProvenance } from './extract-vector-files';
import {
  type ExtractionProgressEvent,
  type ExtractionStage,
  type TraitPolarity,
  traitPolarities,
} from './extraction-progress';
import { defaultGenerationSettings, type GenerationSettings, generateResponses } from './generate-responses';
import { formatResponseRecordId, type ResponseRecord } from './response-record';
import { type ClassSplit, splitTrainValidation } from './split-train-validation';
import { computeStageKey } from './stage-key';
import { parseTokenWindow, type TokenWindow } from './token-window';
import {
  defaultVettingThresholds,
  runJudgeVetting,
  type VettingItem,
  type VettingThresholds,
} from './vet-with-judge';
import type { WindowActivations } from './window-activations';

export interface TraitExtractionOptions {
  model: LanguageModel;
  dataset: TraitDataset;
  /** `experiments/<name>`; outputs go to extraction/<category>/<trait>/. */
  experimentDirectory: string;
  /** 0-based layers (default: all). */
  layers?: readonly number[] | undefined;
  /** Hook sites to read (default resid_post, the block output). */
  sites?: readonly HookSite[] | undefined;
  /** Token window averaged per sample (default `response[:5]`). */
  tokenWindow?: string | undefined;
  /** Method ids (default: every method in the registry). */
  methods?: readonly string[] | undefined;
  /** Per-method option overrides, by method id. */
  methodOptions?: Readonly<Record<string, object>> | undefined;
  /** Methods added in code (merged with the built-ins; nothing global changes). */
  extraMethods?: Readonly<Record<string, AnyExtractionMethod>> | undefined;
  generation?: Partial<GenerationSettings> | undefined;
  /** Sequences per forward pass when capturing (default: the generation batch size). */
  activationBatchSize?: number | undefined;
  /** Share of each class's prompts (the last ones) held out for evaluation (default 0.2). */
  validationFraction?: number | undefined;
  /** Judge for optional scenario vetting (before generation). */
  scenarioJudge?: Judge | undefined;
  /** Judge for optional response vetting (after generation). */
  responseJudge?: Judge | undefined;
  vetting?: Partial<VettingThresholds> | undefined;
  /** Also write llama.cpp GGUF control vectors next to the safetensors files. */
  exportGguf?: boolean | undefined;
  /** Redo every stage (true) or the listed ones, even when their outputs exist. */
  force?: boolean | readonly ExtractionStage[] | undefined;
  onProgress?: ((event: ExtractionProgressEvent) => void) | undefined;
  onWarning?: ((message: string) => void) | undefined;
  /**
   * One process at a time extracts a trait in one experiment (a lock file `.lock` in the trait's folder;
   * a lock whose holder died is taken over). How long to wait for another live process before failing
   * with LOCK_HELD, in milliseconds. Default 0: fail at once.
   */
  lockWaitMs?: number | undefined;
  /** Called when another process holds the trait's lock and this run starts waiting for it. */
  onLockWait?: (owner: FileLockOwner | undefined) => void;
}

export interface TraitExtractionResult {
  trait: string;
  evaluation: TraitEvaluation;
  /** The trait's folder in the experiment. */
  directory: string;
  evaluationFile: string;
  vectorFiles: string[];
  ggufFiles: string[];
  warnings: string[];
}

const scenarioQuestion =
  'The text below is the beginning of a document that a language model will continue. Rate how strongly its natural continuation will show the trait.';

/**
 * The extraction pipeline for one trait (docs/study-method.md §3), as resumable stages in the experiment
 * folder: optional scenario vetting -> generate -> optional response vetting -> window activations ->
 * train/validation split -> vectors (every method, every layer) -> evaluation.json. Each stage records
 * a key of its inputs and is skipped when its outputs already match.
 */
export async function runTraitExtraction(options: TraitExtractionOptions): Promise<TraitExtractionResult> {
  const paths = experimentLayout(options.experimentDirectory).extraction(
    options.dataset.category,
    options.dataset.trait,
  );
  return withFileLock(
    join(paths.root, '.lock'),
    {
      purpose: `extract ${options.dataset.name}`,
      waitMs: options.lockWaitMs ?? 0,
      onWait: options.onLockWait,
    },
    async () => {
      // Temporary files of a run that was killed are no one's now; a live run's are kept.
      await removeStaleTemporaryFiles(paths.root, { recursive: true });
      return runLockedTraitExtraction(options, paths);
    },
  );
}

type ExtractionPaths = ReturnType<ReturnType<typeof experimentLayout>['extraction']>;
type ProgressCallback = (completed: number, total: number, skipped: boolean) => void;
type SiteVectors = Awaited<ReturnType<typeof extractVectorFiles>>['vectors'];

/** The options of one run, resolved once: defaults applied, methods looked up, layers checked. */
interface ExtractionRun {
  options: TraitExtractionOptions;
  paths: ExtractionPaths;
  trait: string;
  layers: number[];
  sites: HookSite[];
  window: TokenWindow;
  methods: PlannedMethod[];
  generation: GenerationSettings;
  thresholds: VettingThresholds;
  validationFraction: number;
  /** Every warning of the run, in the order they were raised (written into evaluation.json). */
  warnings: string[];
  warn: (message: string) => void;
  forced: (stage: ExtractionStage) => boolean;
  progress: (stage: ExtractionStage) => ProgressCallback;
}

interface SiteResult {
  activations: WindowActivations;
  vectors: SiteVectors;
}

async function runLockedTraitExtraction(
  options: TraitExtractionOptions,
  paths: ExtractionPaths,
): Promise<TraitExtractionResult> {
  const run = planExtractionRun(options, paths);
  const keptPrompts = await vetScenarios(run);
  const records = await vetResponses(run, await generateAllResponses(run, keptPrompts));
  const { captured, key: activationsKey } = await captureActivations(run, records);
  const firstSite = siteActivations(captured, run.sites[0]);
  warnDroppedSamples(run, firstSite);
  // The last prompts of each class are held out.
  const split: Record<TraitPolarity, ClassSplit> = {
    positive: splitTrainValidation(firstSite.positive.rows, run.validationFraction, `${run.trait} positive`),
    negative: splitTrainValidation(firstSite.negative.rows, run.validationFraction, `${run.trait} negative`),
  };
  const extracted = await extractAllSites(run, captured, split);
  const evaluation = await evaluateOrReuse(run, {
    activationsKey,
    split,
    siteResults: extracted.siteResults,
  });
  return {
    trait: run.trait,
    evaluation,
    directory: paths.root,
    evaluationFile: paths.evaluation,
    vectorFiles: extracted.vectorFiles,
    ggufFiles: extracted.ggufFiles,
    warnings: run.warnings,
  };
}

/** Applies defaults, resolves methods and checks layers; reports the data set's non-blocking issues. */
function planExtractionRun(options: TraitExtractionOptions, paths: ExtractionPaths): ExtractionRun {
  const { model, dataset } = options;
  const trait = dataset.name;
  const warnings: string[] = [];
  const warn = (message: string): void => {
    warnings.push(message);
    options.onWarning?.(message);
  };
  reportDatasetIssues(options, warn);
  const layerCount = model.config.layerCount;
  const layers = [...(options.layers ?? Array.from({ length: layerCount }, (_, layer) => layer))].sort(
    (a, b) => a - b,
  );
  for (const layer of layers) assertLayerInRange(layer, layerCount);
  if (options.sites?.length === 0)
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      `${trait}: sites is empty; name at least one hook site (e.g. resid_post).`,
      {
        details: { sites: [] },
      },
    );
  const run: ExtractionRun = {
    options,
    paths,
    trait,
    layers,
    sites: [...new Set(options.sites ?? ['resid_post'])] as HookSite[],
    window: parseTokenWindow(options.tokenWindow ?? 'response[:5]'),
    methods: planMethods(options),
    generation: { ...defaultGenerationSettings, ...options.generation },
    thresholds: { ...defaultVettingThresholds, ...options.vetting },
    validationFraction: options.validationFraction ?? 0.2,
    warnings,
    warn,
    forced: (stage) =>
      options.force === true || (Array.isArray(options.force) && options.force.includes(stage)),
    progress: (stage) => (completed, total, skipped) =>
      options.onProgress?.({ trait, stage, completed, total, ...(skipped ? { skipped } : {}) }),
  };
  if ((options.scenarioJudge || options.responseJudge) && !dataset.rubric) {
    throw new TraitlensError(
      'INVALID_DATASET',
      `${dataset.directory}: vetting needs a complete definition.txt (HIGH / LOW / Key rubric); run \`traitlens datasets validate\` on it, or extract without a judge.`,
      {
        details: { directory: dataset.directory },
      },
    );
  }
  return run;
}

/**
 * Every problem the data set has that does not stop extraction (duplicate prompts, identical pairs, an
 * incomplete rubric when nothing is vetted, ...) is reported, never dropped.
 */
function reportDatasetIssues(options: TraitExtractionOptions, warn: (message: string) => void): void {
  const { dataset } = options;
  for (const issue of dataset.issues)
    if (!isBlockingDatasetIssue(issue)) warn(`${dataset.name}/${issue.file}: ${issue.message}`);
  if ((options.scenarioJudge || options.responseJudge) && dataset.steering?.evalPrompt !== undefined)
    warn(
      `${dataset.name}/steering.json: eval_prompt is the steering judge's prompt; vetting scores with definition.txt's HIGH / LOW / Key rubric and does not use it.`,
    );
}

/** The requested methods (default: the built-in set plus any method the caller added in code), with options merged. */
function planMethods(options: TraitExtractionOptions): PlannedMethod[] {
  const registry: Record<string, AnyExtractionMethod> = createMethodRegistry(options.extraMethods ?? {});
  const methodIds = options.methods ?? [
    ...defaultExtractionMethodIds,
    ...Object.keys(options.extraMethods ?? {}).filter(
      (id) => !(defaultExtractionMethodIds as readonly string[]).includes(id),
    ),
  ];
  return resolveExtractionMethods(methodIds, registry).map((method) => ({
    method,
    options: { ...method.defaultOptions, ...options.methodOptions?.[method.id] },
  }));
}

/** Stage 1 (optional): keeps the prompts the judge expects to elicit the trait (or its opposite). */
async function vetScenarios(run: ExtractionRun): Promise<Record<TraitPolarity, number[]>> {
  const { dataset, scenarioJudge } = run.options;
  const keptPrompts: Record<TraitPolarity, number[]> = {
    positive: dataset.positive.map((prompt) => prompt.index),
    negative: dataset.negative.map((prompt) => prompt.index),
  };
  if (!scenarioJudge) return keptPrompts;
  const items: VettingItem[] = traitPolarities.flatMap((polarity) =>
    dataset[polarity].map((prompt) => ({
      id: `${polarity}:${prompt.index}`,
      polarity,
      request: createJudgeRequest(
        dataset,
        scenarioQuestion,
        prompt.systemPrompt ? `${prompt.systemPrompt}\n\n${prompt.text}` : prompt.text,
      ),
    })),
  );
  const { scores, summary } = await runJudgeVetting({
    subject: 'scenario',
    judge: scenarioJudge,
    items,
    thresholds: run.thresholds,
    file: `${run.paths.vetting}/scenarios.json`,
    key: computeStageKey({ judge: scenarioJudge.id, dataset: dataset.hash, thresholds: run.thresholds }),
    force: run.forced('scenario-vetting'),
    onProgress: run.progress('scenario-vetting'),
  });
  summary.warnings.forEach(run.warn);
  for (const polarity of traitPolarities)
    keptPrompts[polarity] = keptPrompts[polarity].filter(
      (index) => scores.get(`${polarity}:${index}`)?.passed,
    );
  return keptPrompts;
}

/** Stage 2: completions for both classes, progress counted over both. */
async function generateAllResponses(
  run: ExtractionRun,
  keptPrompts: Readonly<Record<TraitPolarity, readonly number[]>>,
): Promise<Record<TraitPolarity, ResponseRecord[]>> {
  const { generation } = run;
  const records: Record<TraitPolarity, ResponseRecord[]> = { positive: [], negative: [] };
  const totalPrompts = (keptPrompts.positive.length + keptPrompts.negative.length) * generation.rollouts;
  let generatedBefore = 0;
  for (const polarity of traitPolarities) {
    const offset = generatedBefore;
    records[polarity] = await generateResponses({
      model: run.options.model,
      dataset: run.options.dataset,
      polarity,
      promptIndices: keptPrompts[polarity],
      settings: generation,
      file: `${run.paths.responses}/${polarity}.json`,
      force: run.forced('generate'),
      onProgress: (completed, _total, skipped) =>
        run.progress('generate')(offset + completed, totalPrompts, skipped && polarity === 'negative'),
    });
    generatedBefore += keptPrompts[polarity].length * generation.rollouts;
  }
  return records;
}

/** Stage 3 (optional): keeps the completions that show the trait (positives) or do not (negatives). */
async function vetResponses(
  run: ExtractionRun,
  records: Record<TraitPolarity, ResponseRecord[]>,
): Promise<Record<TraitPolarity, ResponseRecord[]>> {
  const { dataset, responseJudge } = run.options;
  if (!responseJudge) return records;
  const all = [...records.positive, ...records.negative];
  const items: VettingItem[] = all.map((record) => ({
    id: formatResponseRecordId(record),
    polarity: record.polarity,
    request: createJudgeRequest(
      dataset,
      record.systemPrompt ? `${record.systemPrompt}\n\n${record.prompt}` : record.prompt,
      record.responseText,
    ),
  }));
  const { scores, summary } = await runJudgeVetting({
    subject: 'response',
    judge: responseJudge,
    items,
    thresholds: run.thresholds,
    file: `${run.paths.vetting}/responses.json`,
    key: computeStageKey({
      judge: responseJudge.id,
      dataset: dataset.hash,
      thresholds: run.thresholds,
      responses: all.map((record) => [formatResponseRecordId(record), record.responseTokenIds]),
    }),
    force: run.forced('response-vetting'),
    onProgress: run.progress('response-vetting'),
  });
  summary.warnings.forEach(run.warn);
  const passed = (record: ResponseRecord): boolean =>
    scores.get(formatResponseRecordId(record))?.passed === true;
  return { positive: records.positive.filter(passed), negative: records.negative.filter(passed) };
}

/** Stage 4: window-averaged activations on the stored token ids. */
async function captureActivations(
  run: ExtractionRun,
  records: Readonly<Record<TraitPolarity, readonly ResponseRecord[]>>,
): Promise<{ captured: CapturedWindowActivations; key: string }> {
  const { model } = run.options;
  const key = computeStageKey({
    // By content, so activations made from a copy of the model at another path are reused.
    model: await computeModelIdentity(model.id),
    layers: run.layers,
    sites: run.sites,
    window: run.window.text,
    records: traitPolarities.map((polarity) =>
      records[polarity].map((record) => [
        formatResponseRecordId(record),
        record.promptTokenIds,
        record.responseTokenIds,
      ]),
    ),
  });
  const captured = await captureWindowActivations({
    model,
    records,
    layers: run.layers,
    sites: run.sites,
    window: run.window,
    batchSize: run.options.activationBatchSize ?? run.generation.batchSize,
    directory: run.paths.activations,
    key,
    force: run.forced('activations'),
    onProgress: run.progress('activations'),
  });
  return { captured, key };
}

function siteActivations(captured: CapturedWindowActivations, site: HookSite | undefined): WindowActivations {
  const activations = site === undefined ? undefined : captured.bySite.get(site);
  // captureWindowActivations returns one entry per requested site; a miss is a bug, not a user error.
  if (!activations) throw new Error(`internal: no window activations captured for site ${site}`);
  return activations;
}

function warnDroppedSamples(run: ExtractionRun, activations: WindowActivations): void {
  const { dropped } = activations;
  if (dropped.length === 0) return;
  run.warn(
    `${run.trait}: ${dropped.length} sample${dropped.length === 1 ? '' : 's'} had no token in ${run.window.text} (e.g. an empty response) and ${dropped.length === 1 ? 'was' : 'were'} left out: ${dropped.slice(0, 5).join(', ')}${dropped.length > 5 ? ', ...' : ''}.`,
  );
}

/** Stage 5: every method at every layer of every site, written as vector files. */
async function extractAllSites(
  run: ExtractionRun,
  captured: CapturedWindowActivations,
  split: Readonly<Record<TraitPolarity, ClassSplit>>,
): Promise<{ vectorFiles: string[]; ggufFiles: string[]; siteResults: Map<HookSite, SiteResult> }> {
  const vectorFiles: string[] = [];
  const ggufFiles: string[] = [];
  const siteResults = new Map<HookSite, SiteResult>();
  const provenance = vectorProvenance(run);
  for (const site of run.sites) {
    const activations = siteActivations(captured, site);
    const extracted = await extractVectorFiles({
      activations,
      split,
      methods: run.methods,
      directory: run.paths.vectors,
      provenance,
      exportGguf: run.options.exportGguf,
      force: run.forced('vectors'),
      onProgress: run.progress('vectors'),
    });
    vectorFiles.push(...extracted.files);
    ggufFiles.push(...extracted.ggufFiles);
    extracted.warnings.forEach(run.warn);
    siteResults.set(site, { activations, vectors: extracted.vectors });
    warnUnconverged(run, site, extracted.vectors);
  }
  return { vectorFiles, ggufFiles, siteResults };
}

function vectorProvenance(run: ExtractionRun): VectorProvenance {
  const { model, dataset } = run.options;
  const { model: modelName, revision } = describeModelSource(model.id);
  const provenance: VectorProvenance = {
    trait: run.trait,
    model: modelName,
    datasetHash: dataset.hash,
    traitlensVersion,
    modelHint: model.config.modelType,
  };
  if (revision) provenance.modelRevision = revision;
  return provenance;
}

function warnUnconverged(run: ExtractionRun, site: HookSite, vectors: SiteVectors): void {
  for (const [method, byLayer] of vectors) {
    const unconverged = [...byLayer]
      .filter(([, value]) => value.details.converged === false)
      .map(([layer]) => layer);
    if (unconverged.length > 0)
      run.warn(
        `${run.trait}: ${method} did not converge at ${site} layer${unconverged.length === 1 ? '' : 's'} ${unconverged.join(', ')}; its vector there is approximate.`,
      );
  }
}

interface EvaluationInputs {
  activationsKey: string;
  split: Readonly<Record<TraitPolarity, ClassSplit>>;
  siteResults: ReadonlyMap<HookSite, SiteResult>;
}

/** Stage 6: evaluation.json, reused when its inputs key matches. */
async function evaluateOrReuse(run: ExtractionRun, inputs: EvaluationInputs): Promise<TraitEvaluation> {
  const key = computeStageKey({
    activations: inputs.activationsKey,
    split: inputs.split,
    methods: run.methods.map((planned) => [planned.method.id, planned.options]),
    version: traitlensVersion,
  });
  const total = run.layers.length * run.sites.length;
  const existing = run.forced('evaluate') ? undefined : await readEvaluation(run.paths.evaluation, key);
  if (existing) {
    run.progress('evaluate')(total, total, true);
    return existing;
  }
  const siteEvaluations: Record<string, SiteEvaluation> = {};
  let done = 0;
  for (const [site, { activations, vectors }] of inputs.siteResults) {
    siteEvaluations[site] = evaluateSite({
      activations,
      split: inputs.split,
      vectors,
      onLayer: () => run.progress('evaluate')(++done, total, false),
    });
  }
  const evaluation = createEvaluation(run, { key, split: inputs.split, sites: siteEvaluations });
  await writeJsonAtomic(run.paths.evaluation, evaluation);
  return evaluation;
}

function createEvaluation(
  run: ExtractionRun,
  parts: {
    key: string;
    split: Readonly<Record<TraitPolarity, ClassSplit>>;
    sites: Record<string, SiteEvaluation>;
  },
): TraitEvaluation {
  const { split } = parts;
  const { model: modelName, revision } = describeModelSource(run.options.model.id);
  return {
    format: 'traitlens.extraction-evaluation',
    formatVersion: '1',
    trait: run.trait,
    model: modelName,
    ...(revision ? { modelRevision: revision } : {}),
    tokenWindow: run.window.text,
    projection: 'cosine',
    layerConvention,
    datasetHash: run.options.dataset.hash,
    traitlensVersion,
    createdAt: new Date().toISOString(),
    key: parts.key,
    split: {
      validationFraction: run.validationFraction,
      train: { positive: split.positive.train.length, negative: split.negative.train.length },
      validation: {
        positive: split.positive.validation.length,
        negative: split.negative.validation.length,
      },
    },
    methods: run.methods.map((planned) => planned.method.id),
    sites: parts.sites,
    warnings: run.warnings,
  };
}

function createJudgeRequest(dataset: TraitDataset, question: string, response: string): JudgeRequest {
  return { kind: 'trait', rubric: dataset.rubric?.text ?? '', trait: dataset.trait, question, response };
}

async function readEvaluation(path: string, key: string): Promise<TraitEvaluation | undefined> {
  try {
    const evaluation = JSON.parse(await readFile(path, 'utf8')) as TraitEvaluation;
    return evaluation.key === key ? evaluation : undefined;
  } catch {
    return undefined;
  }
}
