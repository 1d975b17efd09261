import { join } from 'node:path';
import { isUnitInShard } from '@traitlens/core';
import {
  loadTraitDataset,
  runTraitExtraction,
  summarizeExtraction,
  summarizeExtractionIfComplete,
} from '@traitlens/extraction';
import { resolveLayers } from '../config/resolve-layers';
import { createStudyJudge } from '../models/study-judge';
import { requireStages, type StageContext, type StageSummary } from './stage-context';
import { createStageProgressTracker } from './stage-progress';

/**
 * Stage 1: trait vectors from the base model. Every data set is loaded first, so a
 * broken trait fails before any generation; each trait then runs the resumable extraction pipeline.
 */
export async function runExtractStage(context: StageContext): Promise<StageSummary> {
  const { experiment, log } = context;
  const settings = requireStages(experiment.config.stages, 'extract').extract;
  const datasets = [];
  // A shard extracts its traits only (by a hash of category/trait).
  for (const trait of settings.traits.filter((name) => isUnitInShard(name, context.shard))) {
    const dataset = await loadTraitDataset(join(experiment.datasetsDirectory, trait), {
      requireRubric: settings.vetResponses,
    });
    const limit = settings.promptLimit;
    // Slicing keeps prompt indices (they are positions from 0), so records stay comparable across runs.
    datasets.push(
      limit === undefined
        ? dataset
        : {
            ...dataset,
            positive: dataset.positive.slice(0, limit),
            negative: dataset.negative.slice(0, limit),
          },
    );
  }
  if (datasets.length === 0) {
    // A shard without a trait loads no model (with 12 traits over 8 shards, some get none).
    log('  no trait of stages.extract.traits falls into this shard');
    await summarizeExtractionIfComplete(experiment.directory, settings.traits);
    return { layers: [], traits: {} };
  }
  const model = await context.models.extractionModel();
  const layers = resolveLayers(settings.layers, model.config.layerCount, 'stages.extract.layers');
  const judge = settings.vetResponses ? await createStudyJudge(experiment, log) : undefined;
  const traits: StageSummary = {};
  const progress = createStageProgressTracker(context);
  try {
    for (const dataset of datasets) {
      let lastStage = '';
      const result = await runTraitExtraction({
        model,
        dataset,
        experimentDirectory: experiment.directory,
        layers,
        tokenWindow: settings.tokenWindow,
        ...(settings.methods ? { methods: settings.methods } : {}),
        generation: {
          maxNewTokens: settings.maxNewTokens,
          batchSize: settings.batchSize,
          promptFormat: 'auto',
        },
        validationFraction: settings.validationFraction,
        ...(judge ? { responseJudge: judge.forTrait() } : {}),
        force: context.force,
        ...(context.lockWaitMs ? { lockWaitMs: context.lockWaitMs } : {}),
        onLockWait: (owner) =>
          log(
            `  waiting up to ${(context.lockWaitMs ?? 0) / 1000} s (--lock-wait) for ${owner ? `process ${owner.pid} on ${owner.hostname} (${owner.purpose})` : 'another process'} to release ${dataset.name}`,
          ),
        onProgress: (event) => {
          if (!event.skipped && event.total > 0)
            progress.update(`extract ${dataset.name} ${event.stage}`, event.completed, event.total);
          if (event.stage !== lastStage) {
            lastStage = event.stage;
            log(`  ${dataset.name}: ${event.stage}${event.skipped ? ' (done earlier)' : ''}`);
          }
        },
        onWarning: (message) => log(`  warning: ${message}`),
      });
      const best = result.evaluation.sites.resid_post?.best;
      traits[dataset.name] = best
        ? {
            method: best.method,
            layer: best.layer,
            validationAccuracy: best.validationAccuracy,
            auroc: best.auroc,
            cohensD: best.cohensD,
          }
        : null;
      log(
        `  ${dataset.name}: ${best ? `best ${best.method} at layer ${best.layer}, validation accuracy ${(best.validationAccuracy * 100).toFixed(0)}%` : 'no usable vector'}`,
      );
    }
  } finally {
    progress.finishAll();
    await judge?.dispose();
  }
  // With shards, the one that finishes the last trait writes the summary.
  if (context.shard) await summarizeExtractionIfComplete(experiment.directory, settings.traits);
  else if (datasets.length > 1) await summarizeExtraction(experiment.directory);
  return { layers, traits };
}
