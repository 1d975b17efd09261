import { readFile } from 'node:fs/promises';
import { TraitlensError } from '@traitlens/core';

export interface ReadPromptLabelsOptions {
  /** Scores (e.g. judge 0-100) at or above this are label 1 (default 50); 0/1 and booleans pass through. */
  threshold?: number | undefined;
}

const scoreKeys = new Set(['score', 'judgeScore', 'judge_score']);

/** How the labels of one file are read. */
interface LabelReading {
  threshold: number;
  /** The file, for error messages. */
  source: string;
  /** Whether every bare number in the file is 0 or 1. */
  binaryNumbers: boolean;
}

/**
 * How a bare number is read: as a 0/1 label when every bare number in the file is 0 or 1, otherwise as a
 * score against the threshold (so a judge score of 1 out of 100 is not mistaken for "exploiting").
 * Numbers under a score key (`kind` 'score') are always scores.
 */
function toLabel(
  value: unknown,
  promptId: string,
  reading: LabelReading,
  kind: 'label' | 'score' = 'label',
): 0 | 1 | undefined {
  const { threshold, source, binaryNumbers } = reading;
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'number' && Number.isFinite(value)) {
    if (kind === 'label' && binaryNumbers && (value === 0 || value === 1)) return value;
    return value >= threshold ? 1 : 0;
  }
  if (typeof value === 'object' && value !== null) {
    const record = value as Record<string, unknown>;
    if (Array.isArray(record.exploitations)) return record.exploitations.length > 0 ? 1 : 0;
    for (const key of ['label', 'exploits', 'exploited', 'score', 'judgeScore', 'judge_score']) {
      if (key in record)
        return toLabel(record[key], promptId, reading, scoreKeys.has(key) ? 'score' : 'label');
    }
  }
  throw new TraitlensError(
    'INVALID_DATASET',
    `${source}: the label of prompt "${promptId}" is ${JSON.stringify(value)}; use 0/1, true/false, a 0-100 score, {"label": ...}, {"score": ...} or {"exploitations": [...]}.`,
    { details: { file: source, promptId } },
  );
}

/**
 * Binary labels per prompt id from a labels file, an annotation file or judge scores. Accepted shapes:
 * `{ "<id>": 0|1|true|false|score|{label|score|exploitations} }`, the same under a top-level `labels` key,
 * or an array of `{ prompt_id|promptId|id, label|score|exploits }`. Annotation files
 * (`{id: {exploitations: [...]}}`) give 1 for a prompt with at least one exploitation.
 */
export function parsePromptLabels(
  value: unknown,
  source = 'labels',
  options: ReadPromptLabelsOptions = {},
): Map<string, 0 | 1> {
  const threshold = options.threshold ?? 50;
  const labels = new Map<string, 0 | 1>();
  const body =
    typeof value === 'object' && value !== null && !Array.isArray(value) && 'labels' in value
      ? (value as { labels: unknown }).labels
      : value;
  const entries: unknown[] = Array.isArray(body)
    ? body
    : typeof body === 'object' && body !== null
      ? Object.values(body)
      : [];
  const bareNumbers = entries
    .map((entry) =>
      typeof entry === 'object' && entry !== null
        ? ((entry as Record<string, unknown>).label ??
          (entry as Record<string, unknown>).exploits ??
          (entry as Record<string, unknown>).exploited)
        : entry,
    )
    .filter((entry): entry is number => typeof entry === 'number');
  const reading: LabelReading = {
    threshold,
    source,
    binaryNumbers: bareNumbers.every((entry) => entry === 0 || entry === 1),
  };
  if (Array.isArray(body)) {
    body.forEach((row, index) => {
      const record = (row ?? {}) as Record<string, unknown>;
      const id = record.prompt_id ?? record.promptId ?? record.id;
      if (id === undefined)
        throw new TraitlensError('INVALID_DATASET', `${source}: row ${index} has no prompt_id/promptId/id.`, {
          details: { file: source, index },
        });
      const label = toLabel(record, String(id), reading);
      if (label !== undefined) labels.set(String(id), label);
    });
    return labels;
  }
  if (typeof body !== 'object' || body === null) {
    throw new TraitlensError(
      'INVALID_DATASET',
      `${source} must hold a JSON object of prompt id -> label or an array of {prompt_id, label}.`,
      { details: { file: source } },
    );
  }
  for (const [id, raw] of Object.entries(body)) {
    const label = toLabel(raw, id, reading);
    if (label !== undefined) labels.set(id, label);
  }
  return labels;
}

export async function readJsonFile(path: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new TraitlensError('FILE_NOT_FOUND', `${what} file not found: ${path}.`, {
      cause,
      details: { file: path },
    });
  }
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new TraitlensError('INVALID_DATASET', `${path} is not valid JSON (${(cause as Error).message}).`, {
      cause,
      details: { file: path },
    });
  }
}

export async function readPromptLabels(
  path: string,
  options: ReadPromptLabelsOptions = {},
): Promise<Map<string, 0 | 1>> {
  return parsePromptLabels(await readJsonFile(path, 'Labels'), path, options);
}
