import { TraitlensError } from '@traitlens/core';
import { loadStudyPromptSets } from '../config/study-prompt-sets';
import { type LabelSource, labelResponses } from '../labels/label-responses';
import { createStudyJudge, type StudyJudge } from '../models/study-judge';
import { requireStages, type StageContext, type StageSummary } from './stage-context';
import { createStageProgressTracker } from './stage-progress';

/** Stage 5: labels the generating variant's responses as the config's `stages.label` block says. */
export async function runLabelStage(context: StageContext): Promise<StageSummary> {
  const { experiment, log } = context;
  const progress = createStageProgressTracker(context);
  const settings = experiment.config.stages.label;
  if (!settings) throw new TraitlensError('INVALID_CONFIG', `${experiment.file}: stages.label is missing.`);
  let judge: StudyJudge | undefined;
  let source: LabelSource;
  if (settings.judge) {
    judge = await createStudyJudge(experiment, log);
    source = {
      kind: 'judge',
      judge: judge.forTrait(),
      judgeId: judge.id,
      threshold: settings.threshold,
      behaviour: settings.behaviour,
      ...(settings.rubric ? { rubric: settings.rubric } : {}),
    };
  } else if (settings.field) {
    source = {
      kind: 'field',
      field: settings.field,
      ...(settings.keywords ? { keywords: settings.keywords } : {}),
    };
  } else {
    source = { kind: 'keywords', keywords: settings.keywords ?? {} };
  }
  try {
    const result = await labelResponses({
      experiment: experiment.directory,
      variant: requireStages(experiment.config.stages, 'capture').capture.variant,
      promptSets: await loadStudyPromptSets(experiment),
      source,
      annotationsFile: experiment.annotationsFile,
      force: context.force,
      // A shard only judges (its prompts); the unsharded run merges the scores into labels.json.
      shard: context.shard,
      onProgress: progress.active
        ? (done: number, total: number) => progress.update('label judge', done, total, 'responses')
        : undefined,
      log,
    });
    return { ...result };
  } finally {
    progress.finishAll();
    await judge?.dispose();
  }
}
