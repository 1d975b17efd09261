import { TraitlensError } from '@traitlens/core';
import type { PromptSet, PromptSetPrompt } from './prompt-set';

/**
 * Ids and prompt-set names become file and folder names, so they are restricted to characters that are
 * safe on every file system (no separators, no leading dot).
 */
const safeNamePattern = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

export function isSafeFileName(value: string): boolean {
  return safeNamePattern.test(value) && !value.endsWith('.');
}

const knownPromptFields = new Set(['id', 'text', 'note', 'bias_id', 'bias_description']);

/** How many problems one error lists before it says "and N more". */
const reportedProblemLimit = 12;

export interface ParsePromptSetOptions {
  /** The set's id (its folder name under `inference/<variant>/`). */
  id: string;
  /** Where the value came from, for messages (a file path). */
  source?: string;
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'missing';
  const text = JSON.stringify(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

/**
 * Validates a prompt set in the study's schema `{name, description, prompts: [{id, text, note?, bias_id?,
 * bias_description?}]}` (a bare array of prompts is accepted too) and returns it with string ids. Every
 * problem is collected and reported in one INVALID_DATASET error naming the prompt index, id and field:
 * missing or duplicate ids (also ids that differ only in case, which collide on case-insensitive file
 * systems), ids unusable as file names, empty or non-string text, and wrongly typed optional fields.
 */
export function parsePromptSet(value: unknown, options: ParsePromptSetOptions): PromptSet {
  const source = options.source ?? `prompt set "${options.id}"`;
  const { record, rawPrompts } = readPromptSetBody(value, { ...options, source });
  const problems: string[] = [];
  if (record.name !== undefined && typeof record.name !== 'string')
    problems.push(`"name" must be a string (got ${describeValue(record.name)})`);
  if (record.description !== undefined && typeof record.description !== 'string')
    problems.push(`"description" must be a string (got ${describeValue(record.description)})`);
  const entries: EntryContext = { problems, seen: new Map() };
  const prompts = rawPrompts.flatMap((raw, index) => parsePromptEntry(raw, index, entries) ?? []);
  if (problems.length > 0) throw invalidPromptSetError({ source, file: options.source, problems });
  const set: PromptSet = {
    id: options.id,
    name: typeof record.name === 'string' ? record.name : options.id,
    description: typeof record.description === 'string' ? record.description : '',
    prompts,
  };
  if (options.source) set.source = options.source;
  return set;
}

/** The set's object (a bare array counts as its prompts) with a non-empty prompts array; a usable set id. */
function readPromptSetBody(
  value: unknown,
  options: ParsePromptSetOptions & { source: string },
): { record: Record<string, unknown>; rawPrompts: unknown[] } {
  const { source } = options;
  if (!isSafeFileName(options.id)) {
    throw new TraitlensError(
      'INVALID_DATASET',
      `${source}: the prompt set id "${options.id}" cannot be used as a folder name; use letters, digits, _, - and . (not first).`,
      { details: { file: options.source, id: options.id } },
    );
  }
  const body = Array.isArray(value) ? { prompts: value } : value;
  if (typeof body !== 'object' || body === null) {
    throw new TraitlensError(
      'INVALID_DATASET',
      `${source} must hold a JSON object {"name", "description", "prompts": [{"id", "text"}, ...]} (got ${describeValue(value)}).`,
      { details: { file: options.source } },
    );
  }
  const record = body as Record<string, unknown>;
  const rawPrompts = record.prompts;
  if (!Array.isArray(rawPrompts) || rawPrompts.length === 0) {
    throw new TraitlensError(
      'INVALID_DATASET',
      `${source}: "prompts" must be a non-empty array of {"id", "text"} objects (got ${describeValue(rawPrompts)}).`,
      { details: { file: options.source, field: 'prompts' } },
    );
  }
  return { record, rawPrompts };
}

/** What checking one entry shares with the others: the problems so far and the ids seen (case-folded). */
interface EntryContext {
  problems: string[];
  seen: Map<string, { index: number; id: string }>;
}

/** One entry of `prompts`; undefined (with its problems recorded) when it has no usable id or text. */
function parsePromptEntry(raw: unknown, index: number, context: EntryContext): PromptSetPrompt | undefined {
  const { problems } = context;
  const where = `prompts[${index}]`;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    problems.push(`${where} must be an object {"id", "text"} (got ${describeValue(raw)})`);
    return undefined;
  }
  const entry = raw as Record<string, unknown>;
  const id = parsePromptId(entry.id, where, problems);
  const label = id === undefined ? where : `${where} (id ${id})`;
  if (id !== undefined) checkUniqueId({ id, index, label }, context);
  if (typeof entry.text !== 'string')
    problems.push(`${label}: "text" must be a string (got ${describeValue(entry.text)})`);
  else if (entry.text.trim() === '') problems.push(`${label}: "text" is empty`);
  checkOptionalFields(entry, label, problems);
  if (id === undefined || typeof entry.text !== 'string') return undefined;
  const prompt: PromptSetPrompt = { id, text: entry.text };
  if (typeof entry.note === 'string') prompt.note = entry.note;
  if (typeof entry.bias_id === 'number') prompt.biasId = entry.bias_id;
  if (typeof entry.bias_description === 'string') prompt.biasDescription = entry.bias_description;
  const extra = Object.entries(entry).filter(([key]) => !knownPromptFields.has(key));
  if (extra.length > 0) prompt.extraFields = Object.fromEntries(extra);
  return prompt;
}

/** A non-negative integer id (as a string) or a string usable as a file name. */
function parsePromptId(value: unknown, where: string, problems: string[]): string | undefined {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return String(value);
  if (typeof value === 'string' && isSafeFileName(value)) return value;
  problems.push(
    typeof value === 'string'
      ? `${where}: id ${describeValue(value)} cannot be used as a file name; use letters, digits, _, - and . (not first), at most 128 characters`
      : `${where}: "id" must be a non-negative integer or a string (got ${describeValue(value)})`,
  );
  return undefined;
}

/** Ids name files, so they must differ in more than letter case. */
function checkUniqueId(prompt: { id: string; index: number; label: string }, context: EntryContext): void {
  const { id, index, label } = prompt;
  const folded = id.toLowerCase();
  const first = context.seen.get(folded);
  if (!first) {
    context.seen.set(folded, { index, id });
    return;
  }
  context.problems.push(
    first.id === id
      ? `${label} repeats the id of prompts[${first.index}]; ids must be unique`
      : `${label} differs from the id "${first.id}" of prompts[${first.index}] only in letter case; ids name files, so they must differ in more than case`,
  );
}

function checkOptionalFields(entry: Record<string, unknown>, label: string, problems: string[]): void {
  if (entry.note !== undefined && entry.note !== null && typeof entry.note !== 'string')
    problems.push(`${label}: "note" must be a string (got ${describeValue(entry.note)})`);
  const biasId = entry.bias_id;
  if (
    biasId !== undefined &&
    biasId !== null &&
    !(typeof biasId === 'number' && Number.isInteger(biasId) && biasId >= 0)
  )
    problems.push(`${label}: "bias_id" must be a non-negative integer (got ${describeValue(biasId)})`);
  const biasDescription = entry.bias_description;
  if (biasDescription !== undefined && biasDescription !== null && typeof biasDescription !== 'string')
    problems.push(`${label}: "bias_description" must be a string (got ${describeValue(biasDescription)})`);
}

function invalidPromptSetError(found: {
  source: string;
  file: string | undefined;
  problems: readonly string[];
}): TraitlensError {
  const { problems } = found;
  const listed = problems.slice(0, reportedProblemLimit).map((problem) => `  - ${problem}`);
  if (problems.length > reportedProblemLimit)
    listed.push(`  - and ${problems.length - reportedProblemLimit} more`);
  return new TraitlensError(
    'INVALID_DATASET',
    `${found.source} is not a valid prompt set (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${listed.join('\n')}`,
    { details: { file: found.file, problems } },
  );
}
