import { type ActivationPart, TraitlensError } from '@traitlens/core';

/** `scalar`: h . v/|v|. `cosine`: h . v/(|h||v|), robust to the 3-8x growth of norms with depth. */
export type ProjectionMeasure = 'scalar' | 'cosine';

/**
 * How per-token projections become one number per response: the mean over all tokens, the maximum, the
 * mean over a Python-style slice of token positions (`[:5]`, `[-10:]`), or the last token.
 */
export type ResponseAggregation =
  | { kind: 'mean' }
  | { kind: 'max' }
  | { kind: 'last' }
  | { kind: 'window'; start: number; end?: number };

export interface ProjectionSettings {
  measure: ProjectionMeasure;
  /** Subtract the vector file's baseline (projection of the class-mean midpoint) before anything else. */
  centred: boolean;
  aggregation: ResponseAggregation;
  /** Which tokens of each activation file: the response (default) or the prompt. */
  part: ActivationPart;
}

export const defaultProjectionSettings: ProjectionSettings = {
  measure: 'cosine',
  centred: false,
  aggregation: { kind: 'mean' },
  part: 'response',
};

/** Parses `mean`, `max`, `last` or a slice `[start:end]` (either bound optional, negatives from the end). */
export function parseResponseAggregation(text: string): ResponseAggregation {
  const trimmed = text.trim();
  if (trimmed === 'mean' || trimmed === 'max' || trimmed === 'last') return { kind: trimmed };
  const match = /^\[\s*(-?\d+)?\s*:\s*(-?\d+)?\s*\]$/.exec(trimmed);
  if (match) {
    const window: ResponseAggregation = {
      kind: 'window',
      start: match[1] === undefined ? 0 : Number(match[1]),
    };
    if (match[2] !== undefined) window.end = Number(match[2]);
    return window;
  }
  throw new TraitlensError(
    'INVALID_ARGUMENT',
    `Aggregation "${text}" is not one of mean, max, last or a token slice such as [:5] or [-10:].`,
    { details: { value: text } },
  );
}

export function formatResponseAggregation(aggregation: ResponseAggregation): string {
  if (aggregation.kind !== 'window') return aggregation.kind;
  return `[${aggregation.start === 0 ? '' : aggregation.start}:${aggregation.end ?? ''}]`;
}

/** The [start, end) token range an aggregation covers in a part of `tokenCount` tokens. */
export function resolveTokenRange(aggregation: ResponseAggregation, tokenCount: number): [number, number] {
  if (aggregation.kind === 'last') return [Math.max(0, tokenCount - 1), tokenCount];
  if (aggregation.kind !== 'window') return [0, tokenCount];
  const clamp = (value: number): number =>
    Math.min(tokenCount, Math.max(0, value < 0 ? tokenCount + value : value));
  const start = clamp(aggregation.start);
  const end = aggregation.end === undefined ? tokenCount : clamp(aggregation.end);
  return [start, Math.max(start, end)];
}
