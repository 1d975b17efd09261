import { TraitlensError } from '@traitlens/core';

/**
 * Which tokens of prompt + response are averaged into one activation per sample, written like a Python
 * slice of one part: `response[:5]` (the study's default: the first five generated tokens),
 * `response[:]`, `response[2:10]`, `prompt[-1]` (the last prompt token), `prompt[:]`, `prompt[-3:]`.
 */
export interface TokenWindow {
  part: 'prompt' | 'response';
  /** Slice start (may be negative, from the end); undefined = from the first token. */
  start?: number;
  /** Slice end, exclusive (may be negative); undefined = to the last token. */
  end?: number;
  /** `part[i]`: one token rather than a slice. */
  single: boolean;
  /** The canonical text form. */
  text: string;
}

const windowPattern = /^(prompt|response)\[\s*(-?\d+)?\s*(?:(:)\s*(-?\d+)?\s*)?\]$/;

export function parseTokenWindow(text: string): TokenWindow {
  const match = windowPattern.exec(text.trim());
  if (!match || (match[3] === undefined && match[2] === undefined)) {
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      `"${text}" is not a token window; write part[slice] with part prompt or response, e.g. response[:5], response[:], prompt[-1], prompt[:].`,
      { details: { value: text } },
    );
  }
  const part = match[1] as TokenWindow['part'];
  const single = match[3] === undefined;
  const window: TokenWindow = { part, single, text: '' };
  if (match[2] !== undefined) window.start = Number(match[2]);
  if (match[4] !== undefined) window.end = Number(match[4]);
  window.text = single ? `${part}[${window.start}]` : `${part}[${window.start ?? ''}:${window.end ?? ''}]`;
  return window;
}

/**
 * Absolute token positions [start, end) of the window in the concatenated prompt + response sequence;
 * empty (start === end) when the part is too short (a response that stopped at once has no response[:5]).
 */
export function resolveTokenWindow(
  window: TokenWindow,
  promptLength: number,
  responseLength: number,
): { start: number; end: number } {
  const length = window.part === 'prompt' ? promptLength : responseLength;
  const offset = window.part === 'prompt' ? 0 : promptLength;
  const clamp = (value: number): number => Math.min(length, Math.max(0, value < 0 ? length + value : value));
  if (window.single) {
    const index = (window.start ?? 0) < 0 ? length + (window.start ?? 0) : (window.start ?? 0);
    if (index < 0 || index >= length) return { start: offset, end: offset };
    return { start: offset + index, end: offset + index + 1 };
  }
  const start = window.start === undefined ? 0 : clamp(window.start);
  const end = window.end === undefined ? length : clamp(window.end);
  return { start: offset + start, end: offset + Math.max(start, end) };
}

/** A file-name-safe form: `response[:5]` -> `response__5`, `prompt[-1]` -> `prompt_-1`. */
export function formatTokenWindowSlug(window: TokenWindow): string {
  return window.text.replace('[', '_').replace(']', '').replace(':', '_');
}
