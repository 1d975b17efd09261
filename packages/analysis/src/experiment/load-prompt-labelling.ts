import { TraitlensError } from '@traitlens/core';
import { type ExploitAnnotations, parseExploitAnnotations } from '../projections/exploit-annotations';
import {
  type ExperimentPrompt,
  type ExperimentPrompts,
  lookupPrompt,
  readPromptTwin,
} from './experiment-prompts';
import { type PromptGroup, parsePromptGroups, readTwinGroup } from './read-prompt-groups';
import { parsePromptLabels, readJsonFile } from './read-prompt-labels';

/** What is known about each analysed prompt besides its activations: label, exploit spans, group. */
export interface PromptLabelling {
  /** Labels by prompt id or key as read (undefined: no labels, so no detection or predictivity). */
  labelMap: Map<string, 0 | 1> | undefined;
  /** Per analysed prompt, in prompt order: 1, 0, or NaN when unlabelled. */
  labels: Float64Array;
  /** Exploit spans by prompt id or key as read. */
  annotations: ExploitAnnotations | undefined;
  /** Exploit spans by prompt key, for the analysed prompts that have them. */
  promptAnnotations: ExploitAnnotations | undefined;
  /** Group (bias id) by prompt key. */
  groups: Map<string, PromptGroup>;
  /** Groups the detector trains on; the other labelled groups are held out. */
  trainGroups: Set<number> | undefined;
}

export interface LoadPromptLabellingOptions {
  prompts: ExperimentPrompts;
  promptSets: readonly string[];
  labelsFile?: string | undefined;
  labelThreshold?: number | undefined;
  annotationsFile?: string | undefined;
  promptFiles?: readonly string[] | undefined;
  trainGroups?: readonly number[] | undefined;
}

/** Reads labels (a labels file, else the annotations), exploit spans and prompt groups of the prompts. */
export async function loadPromptLabelling(options: LoadPromptLabellingOptions): Promise<PromptLabelling> {
  const { prompts, uniqueIds } = options.prompts;
  const annotations = options.annotationsFile
    ? parseExploitAnnotations(
        await readJsonFile(options.annotationsFile, 'Annotations'),
        options.annotationsFile,
      )
    : undefined;
  const labelMap = options.labelsFile
    ? parsePromptLabels(await readJsonFile(options.labelsFile, 'Labels'), options.labelsFile, {
        threshold: options.labelThreshold,
      })
    : annotations
      ? new Map([...annotations].map(([id, spans]) => [id, spans.length > 0 ? (1 as const) : (0 as const)]))
      : undefined;
  const labels = Float64Array.from(
    prompts,
    (prompt) => lookupPrompt(labelMap, prompt, uniqueIds) ?? Number.NaN,
  );
  const promptAnnotations: ExploitAnnotations | undefined = annotations
    ? new Map(
        prompts.flatMap((prompt) => {
          const spans = lookupPrompt(annotations, prompt, uniqueIds);
          return spans ? [[prompt.key, spans] as const] : [];
        }),
      )
    : undefined;
  const groups =
    labelMap || options.trainGroups || options.promptFiles
      ? await readPromptGroups(options, prompts)
      : new Map<string, PromptGroup>();
  const trainGroups = resolveTrainGroups(options.trainGroups, groups);
  return { labelMap, labels, annotations, promptAnnotations, groups, trainGroups };
}

/** Groups from the prompt-set files when given, else from each prompt's twin JSON. */
async function readPromptGroups(
  options: LoadPromptLabellingOptions,
  prompts: readonly ExperimentPrompt[],
): Promise<Map<string, PromptGroup>> {
  const byKey = new Map<string, PromptGroup>();
  if (!options.promptFiles || options.promptFiles.length === 0) {
    for (const prompt of prompts) {
      const twin = await readPromptTwin(prompt);
      const group = twin ? readTwinGroup(twin) : undefined;
      if (group) byKey.set(prompt.key, group);
    }
    return byKey;
  }
  for (const spec of options.promptFiles) {
    const equals = spec.indexOf('=');
    const promptSet = equals > 0 ? spec.slice(0, equals) : undefined;
    const path = equals > 0 ? spec.slice(equals + 1) : spec;
    if (!promptSet && options.promptSets.length > 1) {
      throw new TraitlensError(
        'INVALID_ARGUMENT',
        `With several prompt sets, name the set of each prompt file: --prompt-file <prompt set>=${path}.`,
        { details: { file: path } },
      );
    }
    const groups = parsePromptGroups(await readJsonFile(path, 'Prompt set'), path);
    for (const prompt of prompts) {
      if (promptSet && prompt.promptSet !== promptSet) continue;
      const group = groups.get(prompt.promptId);
      if (group) byKey.set(prompt.key, group);
    }
  }
  return byKey;
}

/** Train groups: given explicitly, else the group ids whose prompts are marked split "train". */
function resolveTrainGroups(
  given: readonly number[] | undefined,
  groups: Map<string, PromptGroup>,
): Set<number> | undefined {
  if (given && given.length > 0) return new Set(given);
  const fromSplit = new Set(
    [...groups.values()].filter((group) => group.split === 'train').map((group) => group.group),
  );
  return fromSplit.size > 0 && fromSplit.size < new Set([...groups.values()].map((group) => group.group)).size
    ? fromSplit
    : undefined;
}
