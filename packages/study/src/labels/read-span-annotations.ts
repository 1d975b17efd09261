import { readFile } from 'node:fs/promises';
import { TraitlensError } from '@traitlens/core';

/** One annotated span of a response: response token positions `[start, end)`. */
export interface AnnotatedSpan {
  tokens: [number, number];
  /** What the span is about (the study's `bias` of an exploitation), when the file says. */
  group?: string | number;
  text?: string;
  note?: string;
}

/** Annotations of one prompt's response. */
export interface PromptAnnotation {
  /** The annotated spans, in the `exploitations` key analysis reads. */
  exploitations: AnnotatedSpan[];
  /** The group the prompt was written for (the study's `intended_bias`), when given. */
  intendedGroup?: string | number;
  /** Whether the annotator found the intended behaviour (the study's `intended_bias_exploited`). */
  intendedExploited?: boolean;
}

function invalid(file: string, message: string): TraitlensError {
  return new TraitlensError('INVALID_DATASET', `${file}: ${message}`, { details: { file } });
}

function readRange(value: unknown, file: string, where: string): [number, number] {
  if (
    !Array.isArray(value) ||
    value.length !== 2 ||
    !value.every((bound) => Number.isInteger(bound) && bound >= 0) ||
    value[1] <= value[0]
  )
    throw invalid(
      file,
      `${where} must be [start, end] with integers 0 <= start < end (end exclusive); got ${JSON.stringify(value)}.`,
    );
  return [value[0], value[1]];
}

function readSpans(entry: Record<string, unknown>, file: string, where: string): AnnotatedSpan[] {
  const base: Omit<AnnotatedSpan, 'tokens'> = {};
  const group = entry.bias ?? entry.group;
  if (typeof group === 'string' || typeof group === 'number') base.group = group;
  if (typeof entry.text === 'string') base.text = entry.text;
  if (typeof entry.note === 'string') base.note = entry.note;
  if (entry.tokens !== undefined)
    return [{ ...base, tokens: readRange(entry.tokens, file, `${where}.tokens`) }];
  if (Array.isArray(entry.tokens_multiple))
    return entry.tokens_multiple.map((range, index) => ({
      ...base,
      tokens: readRange(range, file, `${where}.tokens_multiple[${index}]`),
    }));
  throw invalid(
    file,
    `${where} has neither "tokens": [start, end] nor "tokens_multiple": [[start, end], ...].`,
  );
}

/**
 * Parses token-level span annotations in either accepted shape, keyed by prompt id:
 * - traitlens: `{<id>: {exploitations: [{tokens: [start, end]}]}}`;
 * - the RM-sycophancy study's: `{metadata, detailed_annotations: {<id>: {prompt, intended_bias,
 *   intended_bias_exploited, exploitations: [{bias, tokens: [s, e] | tokens_multiple: [[s, e], ...], text,
 *   note, sub_segments?}]}}}`. A `tokens_multiple` entry becomes one span per range; `sub_segments` are
 *   finer views of the same tokens and add no span.
 * Every range is end-exclusive, in response token positions.
 */
export function parseSpanAnnotations(value: unknown, file: string): Map<string, PromptAnnotation> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalid(
      file,
      'must be a JSON object of prompt id -> {exploitations: [...]}, or {detailed_annotations: {...}}.',
    );
  const record = value as Record<string, unknown>;
  const body = 'detailed_annotations' in record ? record.detailed_annotations : record;
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw invalid(file, '"detailed_annotations" must be an object of prompt id -> annotation.');
  const annotations = new Map<string, PromptAnnotation>();
  for (const [id, raw] of Object.entries(body as Record<string, unknown>)) {
    if (typeof raw !== 'object' || raw === null)
      throw invalid(file, `prompt "${id}" must be an object with an "exploitations" array.`);
    const entry = raw as Record<string, unknown>;
    if (!Array.isArray(entry.exploitations))
      throw invalid(
        file,
        `prompt "${id}" has no "exploitations" array; write "exploitations": [] for a response without spans.`,
      );
    const annotation: PromptAnnotation = {
      exploitations: entry.exploitations.flatMap((span, index) => {
        if (typeof span !== 'object' || span === null)
          throw invalid(file, `prompt "${id}" exploitations[${index}] must be an object.`);
        return readSpans(span as Record<string, unknown>, file, `prompt "${id}" exploitations[${index}]`);
      }),
    };
    const intended = entry.intended_bias ?? entry.intended_group;
    if (typeof intended === 'string' || typeof intended === 'number') annotation.intendedGroup = intended;
    const exploited = entry.intended_bias_exploited ?? entry.intended_exploited;
    if (typeof exploited === 'boolean') annotation.intendedExploited = exploited;
    annotations.set(id, annotation);
  }
  return annotations;
}

/** Reads a span annotation file (see parseSpanAnnotations). */
export async function readSpanAnnotations(file: string): Promise<Map<string, PromptAnnotation>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new TraitlensError(
      'FILE_NOT_FOUND',
      `Annotation file not found: ${file}; check stages.label.annotations.`,
      {
        cause,
        details: { file },
      },
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new TraitlensError('INVALID_DATASET', `${file} is not valid JSON: ${(cause as Error).message}`, {
      cause,
      details: { file },
    });
  }
  return parseSpanAnnotations(value, file);
}
