import {
  type CaptureProgressEvent,
  captureVariant,
  type LoadedVariant,
  replayVariant,
  shardPromptSet,
} from '@traitlens/capture';
import type { FileLockOwner, HookPoint } from '@traitlens/core';
import type { LanguageModel } from '@traitlens/model-runtime';
import { resolveLayers } from '../config/resolve-layers';
import { loadStudyPromptSets } from '../config/study-prompt-sets';
import { writeModelDiffVectors } from '../diff/write-model-diff-vectors';
import { requireStages, type StageContext, type StageSummary } from './stage-context';
import { createStageProgressTracker } from './stage-progress';

/** Layers stored by capture and replay: the capture block's, else the extraction layers, else all. */
export function resolveCaptureLayers(context: StageContext, model: LanguageModel): number[] {
  const { capture, extract } = requireStages(context.experiment.config.stages, 'capture');
  return capture.layers
    ? resolveLayers(capture.layers, model.config.layerCount, 'stages.capture.layers')
    : resolveLayers(extract?.layers ?? 'all', model.config.layerCount, 'stages.extract.layers');
}

function variantOf(
  context: StageContext,
  model: LanguageModel,
  name: string,
  loraScale: number,
): LoadedVariant {
  // The config check requires models.lora with a capture block.
  return { name, model, loraScale, lora: context.experiment.sources.lora! };
}

/** `--lock-wait`: how long capture and replay wait for another process on the same prompts. */
function lockOptions(context: StageContext, what: string) {
  const { lockWaitMs } = context;
  if (!lockWaitMs) return {};
  return {
    lockWaitMs,
    onLockWait: (owner: FileLockOwner | undefined) =>
      context.log(
        `  waiting up to ${lockWaitMs / 1000} s (--lock-wait) for ${owner ? `process ${owner.pid} on ${owner.hostname} (${owner.purpose})` : 'another process'} to finish ${what}`,
      ),
  };
}

function progressLogger(context: StageContext): (event: CaptureProgressEvent) => void {
  let nextReport = 0;
  const progress = createStageProgressTracker(context);
  let key = '';
  return (event) => {
    if (event.type === 'start') {
      nextReport = 0;
      key = `${event.stage} ${event.variant}/${event.promptSet}`;
      if (event.total > event.skipped) progress.update(key, event.skipped, event.total, 'prompts');
      context.log(
        `  ${event.stage} ${event.variant}/${event.promptSet}: ${event.total} prompts, ${event.skipped} done earlier${event.missing ? `, ${event.missing} without a response to replay` : ''}`,
      );
    } else if (event.type === 'failed') {
      context.log(`  warning: replay skips prompt "${event.promptId}": ${event.reason}`);
    } else if (event.type === 'prompt' && progress.active) {
      progress.update(key, event.done, event.total, 'prompts');
    } else if (event.type === 'prompt' && event.done >= nextReport) {
      // A line per tenth of the prompts: enough to see a 70B run move, few enough for a log file.
      nextReport = event.done + Math.max(1, Math.ceil(event.total / 10));
      context.log(`    ${event.done}/${event.total}`);
    }
  };
}

/**
 * Stage 3: the model organism (instruct + LoRA at scale 1) answers every prompt of
 * every prompt set (greedy, chat template); one forward pass over prompt + response stores the residual
 * stream of both at the capture layers.
 */
export async function runCaptureStage(context: StageContext): Promise<StageSummary> {
  const settings = requireStages(context.experiment.config.stages, 'capture').capture;
  const model = await context.models.organismModel();
  const points: HookPoint[] = resolveCaptureLayers(context, model).map((layer) => ({
    layer,
    site: 'resid_post',
  }));
  const summary: StageSummary = {};
  for (const promptSet of await loadStudyPromptSets(context.experiment)) {
    const result = await captureVariant({
      experiment: context.experiment.directory,
      promptSet: shardPromptSet(promptSet, context.shard),
      variant: variantOf(context, model, settings.variant, 1),
      points,
      activationDtype: settings.activationDtype,
      maxNewTokens: settings.maxNewTokens,
      batchSize: settings.batchSize,
      force: context.force,
      ...lockOptions(context, `the ${promptSet.id} prompts`),
      onProgress: progressLogger(context),
    });
    summary[promptSet.id] = result;
  }
  return summary;
}

/**
 * Stage 4: the clean model (the same load at LoRA scale 0) reads the
 * organism's stored token ids in one forward pass, so both variants are compared on identical tokens.
 */
export async function runReplayStage(context: StageContext): Promise<StageSummary> {
  const { capture, replay } = requireStages(context.experiment.config.stages, 'capture');
  const model = await context.models.organismModel();
  const points: HookPoint[] = resolveCaptureLayers(context, model).map((layer) => ({
    layer,
    site: 'resid_post',
  }));
  const summary: StageSummary = {};
  const promptSets = await loadStudyPromptSets(context.experiment);
  for (const promptSet of promptSets) {
    summary[promptSet.id] = await replayVariant({
      experiment: context.experiment.directory,
      promptSet: shardPromptSet(promptSet, context.shard),
      sourceVariant: capture.variant,
      variant: variantOf(context, model, replay.variant, 0),
      points,
      activationDtype: capture.activationDtype,
      batchSize: replay.batchSize,
      force: context.force,
      ...lockOptions(context, `the ${promptSet.id} prompts`),
      onProgress: progressLogger(context),
    });
  }
  // A shard holds part of the prompts: the model-diff vector waits for the unsharded run.
  if (replay.modelDiffVectors && !context.shard) {
    const written = await writeModelDiffVectors({
      experiment: context.experiment.directory,
      baseVariant: replay.variant,
      changedVariant: capture.variant,
      promptSets: promptSets.map((set) => set.id),
    });
    context.log(
      `  model-diff vector of ${written.prompts} prompts at layers ${written.layers.join(', ') || 'none'}${written.identicalLayers.length > 0 ? ` (no difference at ${written.identicalLayers.join(', ')})` : ''}: ${written.file}`,
    );
    summary.modelDiffVectors = written;
  }
  return summary;
}
