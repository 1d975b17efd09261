import { createHash } from 'node:crypto';
import {
  assertVectorsFitModel,
  formatWorkShard,
  isUnitInShard,
  type Judge,
  removeStaleTemporaryFiles,
  type SteeringMode,
  type SteeringPositions,
  TraitlensError,
  type TraitVectorSet,
  type WorkShard,
} from '@traitlens/core';
import { l2Norm } from '@traitlens/core/internal';
import { computeModelIdentity, type LanguageModel, type PromptInput } from '@traitlens/model-runtime';
import { measureResidualNorms } from './evaluation/measure-residual-norms';
import {
  type SteeringProgressEvent,
  SteeringRunEvaluator,
  type SteeringRunRequest,
} from './evaluation/steering-run-evaluator';
import { requireUsableScores } from './judges/require-usable-scores';
import type {
  LayerNormRecord,
  SearchCandidateRecord,
  SearchStepRecord,
  SteeringContext,
  SteeringResults,
  SteeringRunRecord,
  SteeringSearchRecord,
} from './results/steering-results';
import { SteeringResultsStore } from './results/steering-results-store';
import {
  assertSearchSettings,
  type CoefficientSearchSettings,
  defaultCoefficientSearchSettings,
  searchCoefficients,
  selectBestStep,
  startingCoefficient,
} from './search/coefficient-search';
import { combineLayerSteering } from './search/multi-layer-steering';
import type { SteeringTrait } from './trait/load-steering-trait';

export interface SteeringEvaluationOptions {
  /** The model to steer (usually the instruct model). */
  model: LanguageModel;
  judge: Judge;
  trait: SteeringTrait;
  vectors: TraitVectorSet;
  /** Shown in error messages. */
  vectorsFile?: string;
  /** The trait's steering folder: results.json and responses/ go here (experimentLayout(root).steering(trait).root). */
  outputDirectory: string;
  /** Layers to steer, each separately (default: every layer in the vector file). */
  layers?: readonly number[];
  /**
   * Only this shard's layers (by a hash of `<trait>/L<layer>`); the other shards, running the same
   * command with their own index into the same folder, do the rest. The baseline is shared (whoever
   * gets there first), and multi-layer steering runs in the shard that finds every layer finished.
   */
  shard?: WorkShard;
  /** A manual grid of coefficients instead of the adaptive search. */
  coefficients?: readonly number[];
  /** Adaptive search settings (defaults: docs/study-method.md §4). `direction` also orders the grid's best. */
  search?: Partial<CoefficientSearchSettings>;
  /** After the per-layer search, combine the best layers and search one common scale. */
  multiLayer?: { strategy: 'weighted' | 'orthogonal'; maxLayers?: number };
  /** `add` (default) or `ablate` (docs/hook-sites.md). */
  mode?: SteeringMode;
  /** Which tokens are steered (default `all`). */
  positions?: SteeringPositions;
  /** Default 64. */
  maxNewTokens?: number;
  /** Default 0 (greedy). */
  temperature?: number;
  seed?: number;
  /** `chat` (default when the model has a chat template) wraps each question as a user message. */
  promptFormat?: 'chat' | 'raw';
  /** Use only the first N questions. */
  questionLimit?: number;
  /** Rows per generate call (default 32). */
  batchSize?: number;
  /** Off-topic answers (relevance below the threshold, default 50) get coherence capped at 50. Default on. */
  relevanceCap?: boolean;
  relevanceThreshold?: number;
  onProgress?: (event: SteeringProgressEvent) => void;
}

export interface SteeringEvaluation {
  results: SteeringResults;
  /** The searches this call ran (also in results.searches). */
  searches: SteeringSearchRecord[];
  /** Judge calls made by this call: 0 when everything was already in results.json. */
  judgeCalls: number;
  /**
   * Trait/coherence judgements of this call that came back without a score (left out of the means;
   * each run records how many it scored). Show it when above 0.
   */
  unscoredJudgements: number;
  resultsPath: string;
}

/** The evaluation's steering settings, checked and defaulted once here (the package's edge). */
interface SteeringPlan {
  layers: number[];
  settings: CoefficientSearchSettings;
  mode: SteeringMode;
  positions: SteeringPositions;
  /** A manual grid, or undefined for the adaptive search. */
  coefficients: readonly number[] | undefined;
}

/** What the questions are asked with: prompts, decoding and the relevance cap. */
interface QuestionSetup {
  questions: string[];
  promptFormat: 'chat' | 'raw';
  prompts: PromptInput[];
  generation: SteeringContext['generation'];
  relevanceCap: SteeringContext['relevanceCap'];
}

/** What the per-layer search (grid or adaptive) runs with. */
interface LayerSearch {
  options: SteeringEvaluationOptions;
  plan: SteeringPlan;
  store: SteeringResultsStore;
  evaluator: SteeringRunEvaluator;
  baseline: SteeringRunRecord;
  /** The layers of this shard. */
  ownLayers: number[];
  /** ` (shard i/n: ...)` when sharded, for progress messages. */
  shardNote: string;
}

/**
 * Validates a trait vector causally (docs/study-method.md §4): scores the unsteered baseline once, measures
 * the base coefficient of each layer, then runs the adaptive coefficient search for all layers in
 * parallel (or a manual grid), optionally followed by multi-layer steering. Every finished run is in
 * results.json at once, so calling this again with the same settings resumes where it stopped and
 * re-judges nothing.
 */
export async function evaluateSteering(options: SteeringEvaluationOptions): Promise<SteeringEvaluation> {
  const { model, trait, vectors } = options;
  const plan = resolveSteeringPlan(options);
  const setup = questionSetup(options);
  // A judge that never gives a number fails within the baseline, not after a search full of "-".
  const judge = requireUsableScores(options.judge, { probe: Math.min(8, 2 * setup.questions.length) });
  const context = await steeringContextOf(options, { setup, judgeId: judge.id });
  // Temporary files of a killed steer run are no one's now (a live run's are kept).
  await removeStaleTemporaryFiles(options.outputDirectory, { recursive: true });
  const store = await SteeringResultsStore.open(options.outputDirectory, context);
  const progress = options.onProgress;
  const ownLayers = plan.layers.filter((layer) => isUnitInShard(`${trait.name}/L${layer}`, options.shard));
  if (ownLayers.length === 0) {
    // This shard has no layer of the trait: nothing to generate (the baseline belongs to the others).
    progress?.({
      type: 'phase',
      phase: 'search',
      message: `No layer of ${trait.name} falls into this shard; nothing to do`,
    });
    return {
      results: store.results,
      searches: [],
      judgeCalls: 0,
      unscoredJudgements: 0,
      resultsPath: store.resultsPath,
    };
  }
  await measureMissingNorms({ options, store, ownLayers, prompts: setup.prompts });
  const residualNorms = new Map(ownLayers.map((layer) => [layer, layerNorms(store, layer).meanResidualNorm]));
  const evaluator = new SteeringRunEvaluator({
    model,
    judge,
    store,
    trait: { name: trait.name, rubric: trait.rubric },
    questions: setup.questions,
    prompts: setup.prompts,
    site: vectors.metadata.site,
    mode: plan.mode,
    positions: plan.positions,
    generation: setup.generation,
    batchSize: options.batchSize ?? 32,
    relevanceCap: setup.relevanceCap,
    residualNorms,
    onProgress: progress,
  });

  progress?.({ type: 'phase', phase: 'baseline', message: 'Scoring the unsteered baseline' });
  const [baseline] = await evaluator.evaluate([{ kind: 'baseline', interventions: [] }]);
  if (!baseline) throw new TraitlensError('RUNTIME_ERROR', 'The baseline evaluation returned no run.');
  const shardNote = options.shard
    ? ` (shard ${formatWorkShard(options.shard)}: ${ownLayers.length} of ${plan.layers.length} layers)`
    : '';
  const search: LayerSearch = { options, plan, store, evaluator, baseline, ownLayers, shardNote };
  let perLayer =
    plan.coefficients !== undefined ? await runGrid(search, plan.coefficients) : await runAdaptive(search);
  await store.saveSearch(
    perLayer,
    plan.layers.map((layer) => `L${layer}`),
  );
  // With shards, the record holds every shard's finished layers (this one's and the others').
  perLayer = (await store.readSearch(perLayer.id)) ?? perLayer;
  const searches: SteeringSearchRecord[] = [perLayer];
  const combined = await runMultiLayer(search, { perLayer, residualNorms });
  if (combined) {
    await store.saveSearch(combined);
    searches.push(combined);
  }
  return {
    results: store.results,
    searches,
    judgeCalls: evaluator.judgeCalls,
    unscoredJudgements: judge.tally.unscored,
    resultsPath: store.resultsPath,
  };
}

function resolveSteeringPlan(options: SteeringEvaluationOptions): SteeringPlan {
  const { model, vectors } = options;
  assertVectorsFitModel(
    vectors,
    { hiddenSize: model.config.hiddenSize, layerCount: model.config.layerCount, id: model.id },
    options.vectorsFile ?? 'The vector file',
  );
  const available = [...vectors.vectors.keys()].sort((a, b) => a - b);
  const layers = [...(options.layers ?? available)];
  for (const layer of layers) {
    if (!vectors.vectors.has(layer)) {
      throw new TraitlensError(
        'INVALID_ARGUMENT',
        `${options.vectorsFile ?? 'The vector file'} has no vector for layer ${layer}; it has layers ${available.join(', ')}.`,
        { details: { layer, available } },
      );
    }
  }
  if (layers.length === 0) throw new TraitlensError('INVALID_ARGUMENT', 'No layers to steer.');
  const settings: CoefficientSearchSettings = { ...defaultCoefficientSearchSettings, ...options.search };
  assertSearchSettings(settings);
  const mode = options.mode ?? 'add';
  const coefficients = options.coefficients;
  if (coefficients !== undefined) {
    if (coefficients.length === 0 || coefficients.some((value) => !Number.isFinite(value))) {
      throw new TraitlensError(
        'INVALID_ARGUMENT',
        `The coefficient grid must be a non-empty list of numbers, got [${coefficients.join(', ')}].`,
      );
    }
  } else if (mode === 'ablate') {
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      'The adaptive search scales additive steering; for ablation give the coefficients explicitly (1 removes the direction fully), e.g. --coefficients 0.5,1.',
    );
  }
  return { layers, settings, mode, positions: options.positions ?? 'all', coefficients };
}

function questionSetup(options: SteeringEvaluationOptions): QuestionSetup {
  const { trait, model } = options;
  const questions = trait.questions.slice(0, options.questionLimit ?? trait.questions.length);
  const promptFormat = options.promptFormat ?? (model.tokenizer.hasChatTemplate ? 'chat' : 'raw');
  return {
    questions,
    promptFormat,
    prompts: questions.map(
      (question): PromptInput => (promptFormat === 'chat' ? [{ role: 'user', content: question }] : question),
    ),
    generation: {
      maxNewTokens: options.maxNewTokens ?? 64,
      temperature: options.temperature ?? 0,
      seed: options.seed ?? 0,
    },
    relevanceCap: { enabled: options.relevanceCap ?? true, threshold: options.relevanceThreshold ?? 50 },
  };
}

/** The settings every run in the results folder must share (results.json's `context`). */
async function steeringContextOf(
  options: SteeringEvaluationOptions,
  evaluation: { setup: QuestionSetup; judgeId: string },
): Promise<SteeringContext> {
  const { trait, model, vectors } = options;
  const { setup } = evaluation;
  return {
    trait: trait.name,
    model: model.id,
    modelIdentity: await computeModelIdentity(model.id),
    vectors: {
      hash: hashVectors(vectors),
      site: vectors.metadata.site,
      method: vectors.metadata.method,
      sourceModel: vectors.metadata.model,
    },
    judge: evaluation.judgeId,
    questions: { count: setup.questions.length, hash: sha256(JSON.stringify(setup.questions)) },
    rubricHash: sha256(JSON.stringify([trait.rubric, trait.evalPrompt ?? null])),
    promptFormat: setup.promptFormat,
    generation: setup.generation,
    relevanceCap: setup.relevanceCap,
  };
}

/** The recorded residual norm and base coefficient of a layer (measured before any search). */
function layerNorms(store: SteeringResultsStore, layer: number): LayerNormRecord {
  const record = store.results.layers[String(layer)];
  if (!record) throw new TraitlensError('RUNTIME_ERROR', `No residual norm is recorded for layer ${layer}.`);
  return record;
}

/** The residual norm and base coefficient of each of this shard's layers that has none yet. */
async function measureMissingNorms(run: {
  options: SteeringEvaluationOptions;
  store: SteeringResultsStore;
  ownLayers: number[];
  prompts: readonly PromptInput[];
}): Promise<void> {
  const { options, store } = run;
  const { vectors } = options;
  const site = vectors.metadata.site;
  const missingNorms = run.ownLayers.filter((layer) => store.results.layers[String(layer)] === undefined);
  if (missingNorms.length === 0) return;
  options.onProgress?.({
    type: 'phase',
    phase: 'norms',
    message: `Measuring residual norms at ${site} of layers ${missingNorms.join(', ')}`,
  });
  const norms = await measureResidualNorms(options.model, {
    prompts: run.prompts,
    layers: missingNorms,
    site,
    batchSize: options.batchSize ?? 32,
  });
  await store.saveLayerNorms(
    Object.fromEntries(
      missingNorms.map((layer) => {
        const meanResidualNorm = norms.get(layer)!;
        const vectorNorm = l2Norm(vectors.vectors.get(layer)!);
        if (vectorNorm === 0)
          throw new TraitlensError(
            'INVALID_VECTOR_FILE',
            `${options.vectorsFile ?? 'The vector file'}: the vector of layer ${layer} is all zeros.`,
          );
        return [
          String(layer),
          { meanResidualNorm, vectorNorm, baseCoefficient: meanResidualNorm / vectorNorm },
        ];
      }),
    ),
  );
}

/** One layer's vector at a coefficient. */
function layerRequest(vectors: TraitVectorSet, layer: number, coefficient: number): SteeringRunRequest {
  return {
    kind: 'layer',
    interventions: [
      { layer, vector: vectors.vectors.get(layer)!, vectorLabel: `layer.${layer}`, coefficient },
    ],
  };
}

/** A manual grid: every coefficient on every layer of the shard. */
async function runGrid(search: LayerSearch, coefficients: readonly number[]): Promise<SteeringSearchRecord> {
  const { options, plan, evaluator, ownLayers, baseline } = search;
  const { settings } = plan;
  options.onProgress?.({
    type: 'phase',
    phase: 'grid',
    message: `Grid of ${coefficients.length} coefficients on layers ${ownLayers.join(', ')}${search.shardNote}`,
  });
  const columns: SteeringRunRecord[][] = [];
  // One coefficient across all layers per call: layers share batches, and each column is saved before the next.
  for (const coefficient of coefficients)
    if (ownLayers.length > 0)
      columns.push(
        await evaluator.evaluate(ownLayers.map((layer) => layerRequest(options.vectors, layer, coefficient))),
      );
  const candidates = ownLayers.map((layer, layerIndex): SearchCandidateRecord => {
    const steps = coefficients.map((coefficient, step) =>
      stepRecord(step, coefficient, columns[step]![layerIndex]!, settings.coherenceThreshold),
    );
    return candidateRecord(
      { id: `L${layer}`, layers: [layer], steps },
      { direction: settings.direction, baseline },
    );
  });
  return searchRecord(
    'grid',
    {
      layers: plan.layers,
      coefficients,
      direction: settings.direction,
      coherenceThreshold: settings.coherenceThreshold,
      mode: plan.mode,
      positions: plan.positions,
    },
    candidates,
  );
}

/** The adaptive coefficient search, all layers of the shard in parallel. */
async function runAdaptive(search: LayerSearch): Promise<SteeringSearchRecord> {
  const { options, plan, evaluator, ownLayers, baseline } = search;
  const { settings } = plan;
  options.onProgress?.({
    type: 'phase',
    phase: 'search',
    message: `Adaptive search, ${settings.steps} steps, layers ${ownLayers.join(', ')} in parallel${search.shardNote}`,
  });
  const baseOf = (layer: number) => layerNorms(search.store, layer).baseCoefficient;
  // Candidate ids name the layer in results.json (`L12`); the layer itself is looked up, not parsed back.
  const layerOfCandidate = new Map(ownLayers.map((layer) => [`L${layer}`, layer]));
  const found = await searchCoefficients(
    [...layerOfCandidate].map(([id, layer]) => ({
      id,
      startCoefficient: startingCoefficient(baseOf(layer), settings),
    })),
    async (requests) => {
      const runs = await evaluator.evaluate(
        requests.map((request) =>
          layerRequest(options.vectors, layerOfCandidate.get(request.candidateId)!, request.coefficient),
        ),
      );
      return runs.map((run) => ({
        traitMean: run.traitMean,
        coherenceMean: run.coherenceMean,
        runId: run.id,
      }));
    },
    settings,
  );
  const candidates = found.map((candidate, index) => {
    const layer = ownLayers[index]!;
    const record = candidateRecord(
      { id: candidate.id, layers: [layer], steps: candidate.steps.map(toStepRecord) },
      { direction: settings.direction, baseline },
    );
    record.baseCoefficient = baseOf(layer);
    return record;
  });
  return searchRecord(
    'adaptive',
    { layers: plan.layers, ...settings, mode: plan.mode, positions: plan.positions },
    candidates,
  );
}

/** Multi-layer steering when asked for and every layer of the search is finished (in any shard). */
async function runMultiLayer(
  search: LayerSearch,
  state: { perLayer: SteeringSearchRecord; residualNorms: Map<number, number> },
): Promise<SteeringSearchRecord | undefined> {
  const { options, plan } = search;
  const { perLayer } = state;
  if (!options.multiLayer) return undefined;
  if (perLayer.candidates.length < plan.layers.length) {
    options.onProgress?.({
      type: 'phase',
      phase: 'multi-layer',
      message: `Multi-layer steering waits for the other shards: ${perLayer.candidates.length} of ${plan.layers.length} layers are finished; the shard that finishes last runs it (or re-run any shard).`,
    });
    return undefined;
  }
  // The combined layers may include other shards' layers: their norms are on disk now.
  for (const [layer, record] of Object.entries(search.store.results.layers))
    state.residualNorms.set(Number(layer), record.meanResidualNorm);
  return searchMultiLayer({
    multiLayer: options.multiLayer,
    perLayer,
    vectors: options.vectors,
    settings: plan.settings,
    evaluator: search.evaluator,
    baseline: search.baseline,
    progress: options.onProgress,
  });
}

async function searchMultiLayer(search: {
  multiLayer: NonNullable<SteeringEvaluationOptions['multiLayer']>;
  perLayer: SteeringSearchRecord;
  vectors: TraitVectorSet;
  settings: CoefficientSearchSettings;
  evaluator: SteeringRunEvaluator;
  baseline: SteeringRunRecord;
  progress: SteeringEvaluationOptions['onProgress'];
}): Promise<SteeringSearchRecord | undefined> {
  const { multiLayer, perLayer, vectors, settings, evaluator, progress } = search;
  const sign = settings.direction === 'negative' ? -1 : 1;
  const ranked = perLayer.candidates
    .filter((candidate) => candidate.best !== null && candidate.traitDelta !== null)
    .sort((a, b) => sign * (b.traitDelta! - a.traitDelta!))
    .slice(0, multiLayer.maxLayers ?? 3);
  if (ranked.length < 2) {
    progress?.({
      type: 'phase',
      phase: 'multi-layer',
      message: `Multi-layer steering skipped: only ${ranked.length} layer(s) had a coherent best coefficient.`,
    });
    return undefined;
  }
  const combination = combineLayerSteering(
    ranked.map((candidate) => ({
      layer: candidate.layers[0]!,
      vector: vectors.vectors.get(candidate.layers[0]!)!,
      coefficient: candidate.best!.coefficient,
    })),
    multiLayer.strategy,
  );
  const order = ranked.map((candidate) => candidate.layers[0]).join(',');
  const layers = combination.layers.map((entry) => entry.layer);
  progress?.({
    type: 'phase',
    phase: 'multi-layer',
    message: `Multi-layer (${multiLayer.strategy}) on layers ${layers.join(', ')}: searching a common scale`,
  });
  const [found] = await searchCoefficients(
    // The layers' best coefficients already sit near the coherence edge; splitting them k ways is the start.
    [{ id: `multi-layer.${multiLayer.strategy}`, startCoefficient: 1 / combination.layers.length }],
    async (requests) => {
      const runs = await evaluator.evaluate(
        requests.map((request) => ({
          kind: 'multi-layer',
          interventions: combination.layers.map((entry) => ({
            layer: entry.layer,
            vector: entry.vector,
            vectorLabel:
              multiLayer.strategy === 'orthogonal'
                ? `orthogonal(${order}).${entry.layer}`
                : `layer.${entry.layer}`,
            coefficient: request.coefficient * entry.coefficient,
          })),
        })),
      );
      return runs.map((run) => ({
        traitMean: run.traitMean,
        coherenceMean: run.coherenceMean,
        runId: run.id,
      }));
    },
    settings,
  );
  if (!found) return undefined;
  const candidate = candidateRecord(
    { id: found.id, layers, steps: found.steps.map(toStepRecord) },
    { direction: settings.direction, baseline: search.baseline },
  );
  return searchRecord(
    'multi-layer',
    {
      strategy: multiLayer.strategy,
      maxLayers: multiLayer.maxLayers ?? 3,
      layers,
      droppedLayers: combination.droppedLayers,
      layerCoefficients: Object.fromEntries(
        combination.layers.map((entry) => [entry.layer, entry.coefficient]),
      ),
      ...settings,
    },
    [candidate],
  );
}

function toStepRecord(step: {
  step: number;
  coefficient: number;
  traitMean: number | null;
  coherenceMean: number | null;
  coherent: boolean;
  multiplier: number;
  velocity: number;
  runId?: string;
}): SearchStepRecord {
  return {
    step: step.step,
    coefficient: step.coefficient,
    runId: step.runId ?? '',
    traitMean: step.traitMean,
    coherenceMean: step.coherenceMean,
    coherent: step.coherent,
    multiplier: step.multiplier,
    velocity: step.velocity,
  };
}

function stepRecord(
  step: number,
  coefficient: number,
  run: SteeringRunRecord,
  threshold: number,
): SearchStepRecord {
  return {
    step,
    coefficient,
    runId: run.id,
    traitMean: run.traitMean,
    coherenceMean: run.coherenceMean,
    coherent: run.coherenceMean !== null && run.coherenceMean >= threshold,
  };
}

function candidateRecord(
  candidate: { id: string; layers: number[]; steps: SearchStepRecord[] },
  against: { direction: 'positive' | 'negative'; baseline: SteeringRunRecord },
): SearchCandidateRecord {
  const { id, layers, steps } = candidate;
  const { direction, baseline } = against;
  const best = selectBestStep(steps, direction);
  const traitDelta =
    best?.traitMean != null && baseline.traitMean !== null ? best.traitMean - baseline.traitMean : null;
  return { id, layers, steps, best, traitDelta };
}

function searchRecord(
  kind: SteeringSearchRecord['kind'],
  settings: Record<string, unknown>,
  candidates: SearchCandidateRecord[],
): SteeringSearchRecord {
  return {
    id: sha256(JSON.stringify([kind, settings])).slice(0, 16),
    kind,
    settings,
    candidates,
    updatedAt: new Date().toISOString(),
  };
}

function hashVectors(vectors: TraitVectorSet): string {
  const hash = createHash('sha256').update(vectors.metadata.site);
  for (const [layer, vector] of [...vectors.vectors].sort((a, b) => a[0] - b[0])) {
    hash.update(`layer.${layer}`);
    hash.update(new Uint8Array(vector.buffer, vector.byteOffset, vector.byteLength));
  }
  return hash.digest('hex');
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
