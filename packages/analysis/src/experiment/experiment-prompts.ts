import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { experimentLayout, TraitlensError } from '@traitlens/core';
import { listActivationFiles } from './list-activation-files';

/** One analysed prompt: its files in variant A (and B) and where its texts may be. */
export interface ExperimentPrompt {
  /** `<prompt set>/<id>` with several prompt sets, else the id. */
  key: string;
  promptSet: string;
  promptId: string;
  pathA: string;
  pathB?: string;
  /** Where the prompt's texts and token strings may be: the activation file's twin, capture's response file. */
  twinPaths: string[];
}

/** The prompts of an analysis with the ids that are unique across its prompt sets. */
export interface ExperimentPrompts {
  prompts: ExperimentPrompt[];
  /** Prompt ids found in one prompt set only: files keyed by bare id may name them. */
  uniqueIds: Set<string>;
  onlyInA: string[];
  onlyInB: string[];
}

export interface CollectExperimentPromptsOptions {
  experiment: string;
  variantA: string;
  /** With B, only prompts in both variants are kept; the others are counted. */
  variantB?: string | undefined;
  promptSets: readonly string[];
  source: 'activations' | 'projections';
}

/** Looks a prompt up by `set/id`, falling back to the bare id only where that id is unique across sets. */
export function lookupPrompt<T>(
  map: ReadonlyMap<string, T> | undefined,
  prompt: ExperimentPrompt,
  uniqueIds: ReadonlySet<string>,
): T | undefined {
  if (!map) return undefined;
  return map.get(prompt.key) ?? (uniqueIds.has(prompt.promptId) ? map.get(prompt.promptId) : undefined);
}

function uniquePromptIds(prompts: readonly ExperimentPrompt[]): Set<string> {
  const counts = new Map<string, number>();
  for (const prompt of prompts) counts.set(prompt.promptId, (counts.get(prompt.promptId) ?? 0) + 1);
  return new Set([...counts].filter(([, count]) => count === 1).map(([id]) => id));
}

/** Lists the prompts of every prompt set that have files in variant A (and B, when given). */
export async function collectExperimentPrompts(
  options: CollectExperimentPromptsOptions,
): Promise<ExperimentPrompts> {
  const { experiment, variantA, variantB, promptSets, source } = options;
  const prompts: ExperimentPrompt[] = [];
  const onlyInA: string[] = [];
  const onlyInB: string[] = [];
  for (const promptSet of promptSets) {
    const filesA = await listActivationFiles(experiment, variantA, promptSet, source);
    const filesB = variantB ? await listActivationFiles(experiment, variantB, promptSet, source) : undefined;
    const responses = experimentLayout(experiment).inference(variantA, promptSet).responses;
    const key = (id: string) => (promptSets.length > 1 ? `${promptSet}/${id}` : id);
    for (const [promptId, pathA] of filesA) {
      const pathB = filesB?.get(promptId);
      if (filesB && !pathB) {
        onlyInA.push(key(promptId));
        continue;
      }
      const twinPaths = [
        ...(source === 'activations' ? [pathA.replace(/\.safetensors$/, '.json')] : []),
        join(responses, `${promptId}.json`),
      ];
      const entry: ExperimentPrompt = { key: key(promptId), promptSet, promptId, pathA, twinPaths };
      if (pathB) entry.pathB = pathB;
      prompts.push(entry);
    }
    if (filesB) for (const promptId of filesB.keys()) if (!filesA.has(promptId)) onlyInB.push(key(promptId));
  }
  if (prompts.length === 0) {
    throw new TraitlensError(
      'INSUFFICIENT_DATA',
      `No prompt has activations in both variants "${variantA}" and "${variantB}" for prompt sets ${promptSets.join(', ')}; capture the same prompts for both.`,
      { details: { onlyInA: onlyInA.length, onlyInB: onlyInB.length } },
    );
  }
  return { prompts, uniqueIds: uniquePromptIds(prompts), onlyInA, onlyInB };
}

/** The prompt's twin JSON (texts, token strings, group), from the first place that has it. */
export async function readPromptTwin(prompt: ExperimentPrompt): Promise<Record<string, unknown> | undefined> {
  for (const path of prompt.twinPaths) {
    try {
      return JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
    } catch {
      // Not there (or not JSON): try the next place.
    }
  }
  return undefined;
}
