import type { PromptSet } from '../prompt-set/prompt-set';
import type { InferencePaths } from '../storage/inference-paths';
import type { LoadedVariant } from '../variants/model-variant';
import type { CaptureStageSummary } from './capture-progress-event';

/** The summary of a stage, with its wall time since `started` (a `performance.now()` reading). */
export function summarizeStage(
  stage: CaptureStageSummary['stage'],
  variant: LoadedVariant,
  promptSet: PromptSet,
  paths: InferencePaths,
  counts: Omit<CaptureStageSummary, 'stage' | 'variant' | 'promptSet' | 'directory' | 'seconds'> & {
    started: number;
  },
): CaptureStageSummary {
  const { started, ...rest } = counts;
  return {
    stage,
    variant: variant.name,
    promptSet: promptSet.id,
    directory: paths.root,
    ...rest,
    seconds: (performance.now() - started) / 1000,
  };
}
