import {
  type FileLockOwner,
  type HookPoint,
  type HookSite,
  parseLayerSelection,
  TraitlensError,
  type WorkShard,
} from '@traitlens/core';
import type { LanguageModel, LoadModelOptions } from '@traitlens/model-runtime';
import { type ProjectionBank, readProjectionBank } from '../projection/projection-bank';
import type { PromptSet } from '../prompt-set/prompt-set';
import { limitPromptSet, resolvePromptSet } from '../prompt-set/read-prompt-set';
import { shardPromptSet } from '../prompt-set/shard-prompt-set';
import { inferencePaths } from '../storage/inference-paths';
import { type LoadedVariantModel, loadVariantModel } from '../variants/load-variant-model';
import type { LoadedVariant, ModelVariant } from '../variants/model-variant';
import { planVariantLoads, type VariantLoadPlan } from '../variants/plan-variant-loads';
import type { CaptureProgressEvent, CaptureStageSummary } from './capture-progress-event';
import { type ChatTemplateUse, captureVariant } from './capture-variant';
import { replayVariant } from './replay-variant';

export interface RunCaptureOptions {
  /** The experiment folder (`experiments/<name>`). */
  experiment: string;
  /** A prompt-set name (`datasets/inference/<name>.json`), a JSON file path, or a parsed set. */
  promptSet: string | PromptSet;
  /** Folders searched for a prompt-set name (default: `datasets/inference` here and in the checkout). */
  promptSetDirectories?: readonly string[] | undefined;
  /** Only the first n prompts of the set. */
  limit?: number | undefined;
  /**
   * Only this shard's prompts (after `limit`): those whose id hashes to `shard.index` of `shard.count`.
   * Shards write disjoint per-prompt files, so N processes can share one experiment folder.
   */
  shard?: WorkShard | undefined;
  /** The variant that generates (B: e.g. the model with the LoRA). */
  variant: ModelVariant;
  /** The variant that replays B's token ids (A: e.g. the clean model). */
  replayVariant?: ModelVariant | undefined;
  /** Layers to capture: `all` (default), `0,3,5`, `2-4`, or a list. */
  layers?: string | readonly number[] | undefined;
  /** Sites captured at those layers (default resid_post). */
  sites?: readonly HookSite[] | undefined;
  /** Trait vector files to project onto instead of storing raw activations (`name` defaults to trait:method). */
  vectors?: ReadonlyArray<{ path: string; name?: string }> | undefined;
  /** With `vectors`: store raw activations at layers x sites too. */
  keepActivations?: boolean | undefined;
  activationDtype?: 'F16' | 'F32' | undefined;
  maxNewTokens?: number | undefined;
  batchSize?: number | undefined;
  chatTemplate?: ChatTemplateUse | undefined;
  systemPrompt?: string | undefined;
  force?: boolean | undefined;
  /**
   * How long (ms) capture and replay wait for another live process capturing the same prompts of the same
   * variant before failing with LOCK_HELD. Default 0: fail at once.
   */
  lockWaitMs?: number | undefined;
  /** Called when another process holds the lock and capture or replay starts waiting for it. */
  onLockWait?: ((owner: FileLockOwner | undefined) => void) | undefined;
  maxCaptureBytes?: number | undefined;
  /** How models load (dtype, threads, providers, cache); the adapter comes from the variants. */
  modelOptions?: Omit<LoadModelOptions, 'lora'> | undefined;
  onProgress?: ((event: CaptureProgressEvent) => void) | undefined;
}

export interface RunCaptureSummary {
  /** `prompts`: the prompts this run covered (its shard's, with a shard). */
  promptSet: { id: string; name: string; prompts: number; source?: string };
  shard?: WorkShard;
  capture: CaptureStageSummary;
  replay?: CaptureStageSummary;
}

function planFor(plans: readonly VariantLoadPlan[], name: string): VariantLoadPlan {
  const plan = plans.find((candidate) => candidate.variants.some((variant) => variant.name === name));
  if (!plan) throw new TraitlensError('INVALID_ARGUMENT', `No load plan serves variant "${name}".`);
  return plan;
}

function resolveLayers(layers: RunCaptureOptions['layers'], model: LanguageModel): number[] {
  if (layers === undefined) return parseLayerSelection('all', model.config.layerCount);
  if (typeof layers === 'string') return parseLayerSelection(layers, model.config.layerCount);
  return [...layers];
}

/**
 * The whole capture stage from a prompt set and variant definitions: generate and capture with
 * `variant`, then (optionally) replay its token ids through `replayVariant`. A LoRA variant and a clean
 * variant of the same base model share one loaded model (switchable adapter, LoRA scale per row);
 * variants on different models are loaded one after the other, never both at once.
 */
export async function runCapture(options: RunCaptureOptions): Promise<RunCaptureSummary> {
  const promptSet = await selectPrompts(options);
  if (promptSet.prompts.length === 0) return emptySummary(options, promptSet);
  const variants = options.replayVariant ? [options.variant, options.replayVariant] : [options.variant];
  const plans = planVariantLoads(variants);
  const capturePlan = planFor(plans, options.variant.name);
  let loaded: LoadedVariantModel | undefined = await loadPlan(options, capturePlan);
  try {
    const capture = await captureVariant({
      ...stageOptions(options, promptSet),
      ...(await storageFor(options, loadedVariant(loaded, options.variant.name))),
      variant: loadedVariant(loaded, options.variant.name),
      maxNewTokens: options.maxNewTokens,
      chatTemplate: options.chatTemplate,
      systemPrompt: options.systemPrompt,
    });
    const summary: RunCaptureSummary = { ...summaryHeader(options, promptSet), capture };
    if (options.replayVariant) {
      const replayPlan = planFor(plans, options.replayVariant.name);
      if (replayPlan !== capturePlan) {
        // Two different models: free the first before loading the second (70B models do not fit twice).
        const previous = loaded;
        loaded = undefined;
        await previous.model.dispose();
        loaded = await loadPlan(options, replayPlan);
      }
      const replayTarget = loadedVariant(loaded, options.replayVariant.name);
      summary.replay = await replayVariant({
        ...stageOptions(options, promptSet),
        ...(await storageFor(options, replayTarget)),
        sourceVariant: options.variant.name,
        variant: replayTarget,
      });
    }
    return summary;
  } finally {
    await loaded?.model.dispose();
  }
}

/** The prompt set, cut to `limit` and then to this run's shard. */
async function selectPrompts(options: RunCaptureOptions): Promise<PromptSet> {
  const promptSet =
    typeof options.promptSet === 'string'
      ? await resolvePromptSet(options.promptSet, { directories: options.promptSetDirectories })
      : options.promptSet;
  return shardPromptSet(limitPromptSet(promptSet, options.limit), options.shard);
}

async function loadPlan(options: RunCaptureOptions, plan: VariantLoadPlan): Promise<LoadedVariantModel> {
  const event: CaptureProgressEvent = {
    type: 'load',
    variants: plan.variants.map((variant) => variant.name),
    model: plan.model,
  };
  if (plan.lora !== undefined) event.lora = plan.lora;
  options.onProgress?.(event);
  return loadVariantModel(plan, options.modelOptions ?? {});
}

function loadedVariant(loaded: LoadedVariantModel, name: string): LoadedVariant {
  const variant = loaded.variants.get(name);
  // planFor chose this load because it serves the variant.
  if (!variant) throw new TraitlensError('INVALID_ARGUMENT', `No load plan serves variant "${name}".`);
  return variant;
}

/** What the capture and the replay stage share. */
function stageOptions(options: RunCaptureOptions, promptSet: PromptSet) {
  return {
    experiment: options.experiment,
    promptSet,
    activationDtype: options.activationDtype,
    batchSize: options.batchSize,
    force: options.force,
    lockWaitMs: options.lockWaitMs,
    onLockWait: options.onLockWait,
    maxCaptureBytes: options.maxCaptureBytes,
    onProgress: options.onProgress,
  };
}

/** Raw activations at layers x sites, projections onto `vectors`, or both (`keepActivations`). */
async function storageFor(
  options: RunCaptureOptions,
  variant: LoadedVariant,
): Promise<{ points?: HookPoint[]; projections?: ProjectionBank }> {
  const layers = resolveLayers(options.layers, variant.model);
  const sites = options.sites ?? ['resid_post'];
  const layerPoints: HookPoint[] = layers.flatMap((layer) => sites.map((site) => ({ site, layer })));
  if (!options.vectors || options.vectors.length === 0) return { points: layerPoints };
  const projections = await readProjectionBank(options.vectors, {
    model: { ...variant.model.config, id: variant.model.id },
    // Without explicit layers, each vector file's own layers are projected.
    layers: options.layers === undefined ? undefined : layers,
  });
  return options.keepActivations ? { points: layerPoints, projections } : { projections };
}

function summaryHeader(options: RunCaptureOptions, promptSet: PromptSet): Omit<RunCaptureSummary, 'capture'> {
  const header: Omit<RunCaptureSummary, 'capture'> = {
    promptSet: { id: promptSet.id, name: promptSet.name, prompts: promptSet.prompts.length },
  };
  if (promptSet.source !== undefined) header.promptSet.source = promptSet.source;
  if (options.shard !== undefined) header.shard = { index: options.shard.index, count: options.shard.count };
  return header;
}

/** A shard that holds no prompt of the set: nothing to load or write (a 70B load takes minutes). */
function emptySummary(options: RunCaptureOptions, promptSet: PromptSet): RunCaptureSummary {
  const stage = (name: CaptureStageSummary['stage'], variant: string): CaptureStageSummary => ({
    stage: name,
    variant,
    promptSet: promptSet.id,
    directory: inferencePaths(options.experiment, variant, promptSet.id).root,
    total: 0,
    skipped: 0,
    written: 0,
    generated: 0,
    missing: 0,
    generatedTokens: 0,
    seconds: 0,
  });
  const summary: RunCaptureSummary = {
    ...summaryHeader(options, promptSet),
    capture: stage('capture', options.variant.name),
  };
  if (options.replayVariant) summary.replay = stage('replay', options.replayVariant.name);
  return summary;
}
