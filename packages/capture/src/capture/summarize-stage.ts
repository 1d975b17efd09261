import type { PromptSet } from '../prompt-set/prompt-set';
import type { InferencePaths } from '../storage/inference-paths';
import type { LoadedVariant } from '../variants/model-variant';
import type { CaptureStageSummary } from './capture-progress-event';

/** What a stage reports about itself, with `started`, its `performance.now()` reading at the start. */
export interface StageCounts
  extends Omit<CaptureStageSummary, 'stage' | 'variant' | 'promptSet' | 'directory' | 'seconds'> {
  stage: CaptureStageSummary['stage'];
  variant: LoadedVariant;
  promptSet: PromptSet;
  paths: InferencePaths;
  started: number;
}

/** The summary of a stage, with its wall time since `started`. */
export function summarizeStage(counts: StageCounts): CaptureStageSummary {
  const { stage, variant, promptSet, paths, started, ...rest } = counts;
  return {
    stage,
    variant: variant.name,
    promptSet: promptSet.id,
    directory: paths.root,
    ...rest,
    seconds: (performance.now() - started) / 1000,
  };
}
