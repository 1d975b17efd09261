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
import { captureWindowActivations } from './capture-window-activations';
import { describeModelSource } from './describe-model-source';
import { evaluateSite } from './evaluate-site';
import { extractVectorFiles, type PlannedMethod } from './extract-vector-files';
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
import { parseTokenWindow } from './token-window';
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
  layers?: readonly number[];
  /** Hook sites to read (default resid_post, the block output). */
  sites?: readonly HookSite[];
  /** Token window averaged per sample (default `response[:5]`). */
  tokenWindow?: string;
  /** Method ids (default: every method in the registry). */
  methods?: readonly string[];
  /** Per-method option overrides, by method id. */
  methodOptions?: Readonly<Record<string, object>>;
  /** Methods added in code (merged with the built-ins; nothing global changes). */
  extraMethods?: Readonly<Record<string, AnyExtractionMethod>>;
  generation?: Partial<GenerationSettings>;
  /** Sequences per forward pass when capturing (default: the generation batch size). */
  activationBatchSize?: number;
  /** Share of each class's prompts (the last ones) held out for evaluation (default 0.2). */
  validationFraction?: number;
  /** Judge for optional scenario vetting (before generation). */
  scenarioJudge?: Judge;
  /** Judge for optional response vetting (after generation). */
  responseJudge?: Judge;
  vetting?: Partial<VettingThresholds>;
  /** Also write llama.cpp GGUF control vectors next to the safetensors files. */
  exportGguf?: boolean;
  /** Redo every stage (true) or the listed ones, even when their outputs exist. */
  force?: boolean | readonly ExtractionStage[];
  onProgress?: (event: ExtractionProgressEvent) => void;
  onWarning?: (message: string) => void;
  /**
   * One process at a time extracts a trait in one experiment (a lock file `.lock` in the trait's folder;
   * a lock whose holder died is taken over). How long to wait for another live process before failing
   * with LOCK_HELD, in milliseconds. Default 0: fail at once.
   */
  lockWaitMs?: number;
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
      ...(options.onLockWait ? { onWait: options.onLockWait } : {}),
    },
    async () => {
      // Temporary files of a run that was killed are no one's now; a live run's are kept.
      await removeStaleTemporaryFiles(paths.root, { recursive: true });
      return runLockedTraitExtraction(options, paths);
    },
  );
}

async function runLockedTraitExtraction(
  options: TraitExtractionOptions,
  paths: ReturnType<ReturnType<typeof experimentLayout>['extraction']>,
): Promise<TraitExtractionResult> {
  const { model, dataset } = options;
  const trait = dataset.name;
  const warnings: string[] = [];
  const warn = (message: string): void => {
    warnings.push(message);
    options.onWarning?.(message);
  };
  // Every problem the data set has that does not stop extraction (duplicate prompts, identical pairs, an
  // incomplete rubric when nothing is vetted, ...) is reported, never dropped.
  for (const issue of dataset.issues)
    if (!isBlockingDatasetIssue(issue)) warn(`${trait}/${issue.file}: ${issue.message}`);
  if ((options.scenarioJudge || options.responseJudge) && dataset.steering?.evalPrompt !== undefined)
    warn(
      `${trait}/steering.json: eval_prompt is the steering judge's prompt; vetting scores with definition.txt's HIGH / LOW / Key rubric and does not use it.`,
    );
  const forced = (stage: ExtractionStage): boolean =>
    options.force === true || (Array.isArray(options.force) && options.force.includes(stage));
  const progress = (stage: ExtractionStage) => (completed: number, total: number, skipped: boolean) =>
    options.onProgress?.({ trait, stage, completed, total, ...(skipped ? { skipped } : {}) });

  const layerCount = model.config.layerCount;
  const layers = [...(options.layers ?? Array.from({ length: layerCount }, (_, layer) => layer))].sort(
    (a, b) => a - b,
  );
  for (const layer of layers) assertLayerInRange(layer, layerCount);
  const sites = [...new Set(options.sites ?? ['resid_post'])] as HookSite[];
  const window = parseTokenWindow(options.tokenWindow ?? 'response[:5]');
  const registry: Record<string, AnyExtractionMethod> = createMethodRegistry(options.extraMethods ?? {});
  // The default set plus any method the caller added in code.
  const methodIds = options.methods ?? [
    ...defaultExtractionMethodIds,
    ...Object.keys(options.extraMethods ?? {}).filter(
      (id) => !(defaultExtractionMethodIds as readonly string[]).includes(id),
    ),
  ];
  const methods: PlannedMethod[] = resolveExtractionMethods(methodIds, registry).map((method) => ({
    method,
    options: { ...method.defaultOptions, ...options.methodOptions?.[method.id] },
  }));
  const generation: GenerationSettings = { ...defaultGenerationSettings, ...options.generation };
  const thresholds: VettingThresholds = { ...defaultVettingThresholds, ...options.vetting };
  const validationFraction = options.validationFraction ?? 0.2;
  if ((options.scenarioJudge || options.responseJudge) && !dataset.rubric) {
    throw new TraitlensError(
      'INVALID_DATASET',
      `${dataset.directory}: vetting needs a complete definition.txt (HIGH / LOW / Key rubric); run \`traitlens datasets validate\` on it, or extract without a judge.`,
      {
        details: { directory: dataset.directory },
      },
    );
  }

  // 1. Scenario vetting (optional): keep prompts the judge expects to elicit the trait (or its opposite).
  const keptPrompts: Record<TraitPolarity, number[]> = {
    positive: dataset.positive.map((prompt) => prompt.index),
    negative: dataset.negative.map((prompt) => prompt.index),
  };
  if (options.scenarioJudge) {
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
      judge: options.scenarioJudge,
      items,
      thresholds,
      file: `${paths.vetting}/scenarios.json`,
      key: computeStageKey({ judge: options.scenarioJudge.id, dataset: dataset.hash, thresholds }),
      force: forced('scenario-vetting'),
      onProgress: progress('scenario-vetting'),
    });
    summary.warnings.forEach(warn);
    for (const polarity of traitPolarities)
      keptPrompts[polarity] = keptPrompts[polarity].filter(
        (index) => scores.get(`${polarity}:${index}`)?.passed,
      );
  }

  // 2. Generate completions for both classes.
  const records: Record<TraitPolarity, ResponseRecord[]> = { positive: [], negative: [] };
  const totalPrompts = (keptPrompts.positive.length + keptPrompts.negative.length) * generation.rollouts;
  let generatedBefore = 0;
  for (const polarity of traitPolarities) {
    const offset = generatedBefore;
    records[polarity] = await generateResponses({
      model,
      dataset,
      polarity,
      promptIndices: keptPrompts[polarity],
      settings: generation,
      file: `${paths.responses}/${polarity}.json`,
      force: forced('generate'),
      onProgress: (completed, _total, skipped) =>
        progress('generate')(offset + completed, totalPrompts, skipped && polarity === 'negative'),
    });
    generatedBefore += keptPrompts[polarity].length * generation.rollouts;
  }

  // 3. Response vetting (optional): keep completions that show the trait (positives) or do not (negatives).
  if (options.responseJudge) {
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
      judge: options.responseJudge,
      items,
      thresholds,
      file: `${paths.vetting}/responses.json`,
      key: computeStageKey({
        judge: options.responseJudge.id,
        dataset: dataset.hash,
        thresholds,
        responses: all.map((record) => [formatResponseRecordId(record), record.responseTokenIds]),
      }),
      force: forced('response-vetting'),
      onProgress: progress('response-vetting'),
    });
    summary.warnings.forEach(warn);
    for (const polarity of traitPolarities)
      records[polarity] = records[polarity].filter(
        (record) => scores.get(formatResponseRecordId(record))?.passed,
      );
  }

  // 4. Window-averaged activations on the stored token ids.
  const activationBatchSize = options.activationBatchSize ?? generation.batchSize;
  const activationsKey = computeStageKey({
    // By content, so activations made from a copy of the model at another path are reused.
    model: await computeModelIdentity(model.id),
    layers,
    sites,
    window: window.text,
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
    layers,
    sites,
    window,
    batchSize: activationBatchSize,
    directory: paths.activations,
    key: activationsKey,
    force: forced('activations'),
    onProgress: progress('activations'),
  });
  const firstSite = captured.bySite.get(sites[0]!)!;
  if (firstSite.dropped.length > 0) {
    warn(
      `${trait}: ${firstSite.dropped.length} sample${firstSite.dropped.length === 1 ? '' : 's'} had no token in ${window.text} (e.g. an empty response) and ${firstSite.dropped.length === 1 ? 'was' : 'were'} left out: ${firstSite.dropped.slice(0, 5).join(', ')}${firstSite.dropped.length > 5 ? ', ...' : ''}.`,
    );
  }

  // 5. Split: the last prompts of each class are held out.
  const split: Record<TraitPolarity, ClassSplit> = {
    positive: splitTrainValidation(firstSite.positive.rows, validationFraction, `${trait} positive`),
    negative: splitTrainValidation(firstSite.negative.rows, validationFraction, `${trait} negative`),
  };

  // 6. Vectors, 7. evaluation, per site.
  const { model: modelName, revision } = describeModelSource(model.id);
  const vectorFiles: string[] = [];
  const ggufFiles: string[] = [];
  const siteResults = new Map<
    HookSite,
    { activations: WindowActivations; vectors: Awaited<ReturnType<typeof extractVectorFiles>>['vectors'] }
  >();
  for (const site of sites) {
    const activations = captured.bySite.get(site)!;
    const extracted = await extractVectorFiles({
      activations,
      split,
      methods,
      directory: paths.vectors,
      provenance: {
        trait,
        model: modelName,
        ...(revision ? { modelRevision: revision } : {}),
        datasetHash: dataset.hash,
        traitlensVersion,
        modelHint: model.config.modelType,
      },
      ...(options.exportGguf ? { exportGguf: true } : {}),
      force: forced('vectors'),
      onProgress: progress('vectors'),
    });
    vectorFiles.push(...extracted.files);
    ggufFiles.push(...extracted.ggufFiles);
    extracted.warnings.forEach(warn);
    siteResults.set(site, { activations, vectors: extracted.vectors });
    for (const [method, byLayer] of extracted.vectors) {
      const unconverged = [...byLayer]
        .filter(([, value]) => value.details.converged === false)
        .map(([layer]) => layer);
      if (unconverged.length > 0)
        warn(
          `${trait}: ${method} did not converge at ${site} layer${unconverged.length === 1 ? '' : 's'} ${unconverged.join(', ')}; its vector there is approximate.`,
        );
    }
  }

  const evaluationKey = computeStageKey({
    activations: activationsKey,
    split,
    methods: methods.map((planned) => [planned.method.id, planned.options]),
    version: traitlensVersion,
  });
  let evaluation = forced('evaluate') ? undefined : await readEvaluation(paths.evaluation, evaluationKey);
  if (evaluation) {
    progress('evaluate')(layers.length * sites.length, layers.length * sites.length, true);
  } else {
    const siteEvaluations: Record<string, SiteEvaluation> = {};
    let done = 0;
    for (const [site, { activations, vectors }] of siteResults) {
      siteEvaluations[site] = evaluateSite(activations, split, vectors, () =>
        progress('evaluate')(++done, layers.length * sites.length, false),
      );
    }
    evaluation = {
      format: 'traitlens.extraction-evaluation',
      formatVersion: '1',
      trait,
      model: modelName,
      ...(revision ? { modelRevision: revision } : {}),
      tokenWindow: window.text,
      projection: 'cosine',
      layerConvention,
      datasetHash: dataset.hash,
      traitlensVersion,
      createdAt: new Date().toISOString(),
      key: evaluationKey,
      split: {
        validationFraction,
        train: { positive: split.positive.train.length, negative: split.negative.train.length },
        validation: {
          positive: split.positive.validation.length,
          negative: split.negative.validation.length,
        },
      },
      methods: methods.map((planned) => planned.method.id),
      sites: siteEvaluations,
      warnings,
    };
    await writeJsonAtomic(paths.evaluation, evaluation);
  }
  return {
    trait,
    evaluation,
    directory: paths.root,
    evaluationFile: paths.evaluation,
    vectorFiles,
    ggufFiles,
    warnings,
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
