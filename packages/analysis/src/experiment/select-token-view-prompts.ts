import type { ExploitAnnotations } from '../projections/exploit-annotations';
import { type ExperimentPrompts, lookupPrompt } from './experiment-prompts';

export interface SelectTokenViewPromptsOptions {
  prompts: ExperimentPrompts;
  /** How many prompts, or which prompt ids or keys. */
  wanted: number | readonly string[];
  labels: Float64Array;
  annotations: ExploitAnnotations | undefined;
}

/** Which prompts keep per-token projections: annotated exploits first, then positives, negatives, the rest. */
export function selectTokenViewPrompts(options: SelectTokenViewPromptsOptions): Set<string> {
  const { wanted, labels, annotations } = options;
  const { prompts, uniqueIds } = options.prompts;
  if (typeof wanted !== 'number')
    return new Set(
      prompts.filter((p) => wanted.includes(p.key) || wanted.includes(p.promptId)).map((p) => p.key),
    );
  const rank = (index: number): number => {
    const spans = lookupPrompt(annotations, prompts[index]!, uniqueIds);
    if (spans && spans.length > 0) return 0;
    if (labels[index] === 1) return 1;
    if (labels[index] === 0) return 2;
    return 3;
  };
  const ranked = prompts.map((prompt, index) => ({ prompt, rank: rank(index) }));
  const chosen: string[] = [];
  // Half from the most interesting class, the rest spread over the others, so the view shows a contrast.
  for (const level of [0, 1, 2, 3]) {
    const quota = level === 3 ? wanted : Math.ceil(wanted / 2);
    for (const { prompt } of ranked.filter((entry) => entry.rank === level).slice(0, quota)) {
      if (chosen.length < wanted) chosen.push(prompt.key);
    }
  }
  return new Set(chosen);
}
