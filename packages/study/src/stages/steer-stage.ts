import { join } from 'node:path';
import { readBestMethods } from '@traitlens/analysis';
import { experimentLayout, readTraitVectors } from '@traitlens/core';
import { vectorFilePath } from '@traitlens/extraction/internal';
import { evaluateSteering, loadSteeringTrait } from '@traitlens/steering';
import { resolveLayers } from '../config/resolve-layers';
import { createLoraScaleView } from '../models/lora-scale-view';
import { createStudyJudge } from '../models/study-judge';
import { requireStages, type StageContext, type StageSummary } from './stage-context';
import { createStageProgressTracker } from './stage-progress';

/**
 * Stage 2: prove each vector causal by steering the clean instruct model (the
 * organism's model at LoRA scale 0) and searching the coefficient per layer with the judge.
 */
export async function runSteerStage(context: StageContext): Promise<StageSummary> {
  const { experiment, log } = context;
  const settings = experiment.config.stages.steer;
  const extracted = requireStages(experiment.config.stages, 'extract').extract.traits;
  const wanted = settings.traits;
  const traits = wanted
    ? extracted.filter((name) => wanted.some((entry) => name === entry || name.endsWith(`/${entry}`)))
    : extracted;
  const layout = experimentLayout(experiment.directory);
  const clean = createLoraScaleView(await context.models.organismModel(), 0);
  const judge = await createStudyJudge(experiment, log);
  const summary: StageSummary = {};
  const progress = createStageProgressTracker(context);
  try {
    for (const name of traits) {
      const [category, traitName] = name.split('/') as [string, string];
      const trait = await loadSteeringTrait(join(experiment.datasetsDirectory, name));
      const method =
        settings.method === 'best'
          ? (
              await readBestMethods(experiment.directory, {
                traits: [name],
                requestedBy: 'stages.steer.method "best"',
              })
            )[name]!
          : settings.method;
      const vectorsFile = vectorFilePath(
        layout.extraction(category, traitName).vectors,
        'resid_post',
        method,
      );
      const vectors = await readTraitVectors(vectorsFile);
      const layers = settings.layers
        ? resolveLayers(settings.layers, clean.config.layerCount, 'stages.steer.layers')
        : undefined;
      const evaluation = await evaluateSteering({
        model: clean,
        judge: judge.forTrait(trait.evalPrompt),
        trait,
        vectors,
        vectorsFile,
        outputDirectory: layout.steering(trait.name).root,
        ...(layers ? { layers } : {}),
        // A shard steers its layers (by a hash of <trait>/L<layer>) of every trait.
        ...(context.shard ? { shard: context.shard } : {}),
        search: {
          steps: settings.steps,
          direction: settings.direction,
          coherenceThreshold: settings.coherenceThreshold,
          ...(settings.upMultiplier ? { upMultiplier: settings.upMultiplier } : {}),
          ...(settings.downMultiplier ? { downMultiplier: settings.downMultiplier } : {}),
          ...(settings.momentum !== undefined ? { momentum: settings.momentum } : {}),
        },
        maxNewTokens: settings.maxNewTokens,
        ...(settings.questions ? { questionLimit: settings.questions } : {}),
        batchSize: settings.batchSize,
        relevanceCap: settings.relevanceCap,
        onProgress: (event) => {
          if (event.type === 'phase') log(`  ${trait.name}: ${event.message}`);
          else if (event.type === 'generation')
            progress.update(`steer ${trait.name} generate`, event.rowsDone, event.rowsTotal, 'rows');
          else if (event.type === 'judging')
            progress.update(`steer ${trait.name} judge`, event.done, event.total, 'answers');
        },
      });
      const candidates = evaluation.searches.flatMap((search) => search.candidates);
      // The most effective coherent candidate: the largest rise, or with direction negative the largest fall.
      const sign = settings.direction === 'negative' ? -1 : 1;
      const best = candidates
        .flatMap(({ id, best, traitDelta }) =>
          best !== null && traitDelta !== null ? [{ id, best, traitDelta }] : [],
        )
        .sort((a, b) => sign * (b.traitDelta - a.traitDelta))[0];
      summary[name] = {
        method,
        baseline: evaluation.results.baseline?.traitMean ?? null,
        judgeCalls: evaluation.judgeCalls,
        best: best
          ? {
              candidate: best.id,
              coefficient: best.best.coefficient,
              traitMean: best.best.traitMean,
              coherenceMean: best.best.coherenceMean,
              traitDelta: best.traitDelta,
            }
          : null,
      };
      log(
        `  ${trait.name}: baseline ${evaluation.results.baseline?.traitMean?.toFixed(1) ?? '-'}, ${best ? `best ${best.id} (trait ${best.best.traitMean?.toFixed(1) ?? '-'}, coherence ${best.best.coherenceMean?.toFixed(1) ?? '-'})` : 'no coherent step'}`,
      );
    }
  } finally {
    progress.finishAll();
    await judge.dispose();
  }
  return summary;
}
