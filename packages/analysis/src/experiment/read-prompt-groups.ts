import { TraitlensError } from '@traitlens/core';

/** Per prompt id: the group (RM bias id) and, where the prompt set says so, its split. */
export interface PromptGroup {
  group: number;
  split?: string;
}

function readGroup(record: Record<string, unknown>): number | undefined {
  for (const value of [
    record.bias_id,
    record.biasId,
    (record.metadata as Record<string, unknown> | undefined)?.bias_id,
    (record.prompt as Record<string, unknown> | undefined)?.bias_id,
  ]) {
    if (typeof value === 'number' && Number.isInteger(value)) return value;
    if (typeof value === 'string' && /^\d+$/.test(value)) return Number(value);
  }
  return undefined;
}

/**
 * Groups from a prompt-set file such as data/rm_sycophancy/train.json:
 * `{ prompts: [{ id, bias_id, split? }] }` (or a bare array of the same).
 */
export function parsePromptGroups(value: unknown, source = 'prompt set'): Map<string, PromptGroup> {
  const prompts = Array.isArray(value) ? value : (value as { prompts?: unknown } | null)?.prompts;
  if (!Array.isArray(prompts)) {
    throw new TraitlensError(
      'INVALID_DATASET',
      `${source} must be a prompt set {"prompts": [{"id": ..., "bias_id": ...}]} or an array of such prompts.`,
      { details: { file: source } },
    );
  }
  const groups = new Map<string, PromptGroup>();
  for (const prompt of prompts) {
    const record = (prompt ?? {}) as Record<string, unknown>;
    if (record.id === undefined) continue;
    const group = readGroup(record);
    if (group === undefined) continue;
    const entry: PromptGroup = { group };
    if (typeof record.split === 'string') entry.split = record.split;
    groups.set(String(record.id), entry);
  }
  return groups;
}

/**
 * The group of one prompt from its activation JSON twin: capture copies the prompt's `biasId` and the
 * prompt set's other fields (`promptFields`, e.g. `split`) into it.
 */
export function readTwinGroup(twin: Record<string, unknown>): PromptGroup | undefined {
  const fields = (twin.promptFields ?? {}) as Record<string, unknown>;
  const group = readGroup(twin) ?? readGroup(fields);
  if (group === undefined) return undefined;
  const entry: PromptGroup = { group };
  const split = twin.split ?? fields.split;
  if (typeof split === 'string') entry.split = split;
  return entry;
}
