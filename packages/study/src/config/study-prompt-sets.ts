import { dirname, resolve } from 'node:path';
import { type PromptSet, resolvePromptSet } from '@traitlens/capture';
import type { Experiment } from './load-experiment';

/**
 * The capture stage's prompt sets, each cut to the first `perGroup` prompts of every prompt group (a
 * prompt-set entry's `bias_id`) when the config asks: quick runs keep every group, so train-to-held-out
 * detection still has groups on both sides.
 */
export async function loadStudyPromptSets(experiment: Experiment): Promise<PromptSet[]> {
  const settings = experiment.config.stages.capture;
  if (!settings) return [];
  const sets: PromptSet[] = [];
  for (const name of settings.promptSets) {
    // A file name is relative to the config file, like every other path in it.
    const reference = /\.json$/i.test(name) ? resolve(dirname(experiment.file), name) : name;
    const set = await resolvePromptSet(reference, { directories: [experiment.promptSetDirectory] });
    if (settings.perGroup === undefined) {
      sets.push(set);
      continue;
    }
    const taken = new Map<string, number>();
    const prompts = set.prompts.filter((prompt) => {
      const group = String(prompt.biasId ?? 'none');
      const count = taken.get(group) ?? 0;
      taken.set(group, count + 1);
      return count < settings.perGroup!;
    });
    sets.push({ ...set, prompts });
  }
  return sets;
}
