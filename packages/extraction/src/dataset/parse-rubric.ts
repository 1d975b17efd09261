import type { TraitRubric } from './trait-dataset';

/** The parts of a definition.txt, any of which may be missing. */
export type ParsedRubric = { text: string } & Partial<Omit<TraitRubric, 'text'>>;

const headers = [
  { part: 'high', pattern: /^\s*HIGH\b/ },
  { part: 'low', pattern: /^\s*LOW\b/ },
  // "Key:" and its variants of the original data sets: "Key distinction:", "Key difference:", ...
  { part: 'key', pattern: /^\s*Key\b[^:\n]{0,40}:/i },
] as const;

/**
 * Splits a rubric into its HIGH paragraph, LOW paragraph and Key line (`Key:` or any `Key ...:` variant,
 * such as `Key distinction:`). A part runs from its header
 * line to the next blank line or header, so both the study's one-line paragraphs and wrapped ones work.
 */
export function parseRubric(text: string): ParsedRubric {
  const result: ParsedRubric = { text };
  let current: { part: 'high' | 'low' | 'key'; lines: string[] } | undefined;
  const finish = (): void => {
    if (current && result[current.part] === undefined) result[current.part] = current.lines.join('\n').trim();
    current = undefined;
  };
  for (const line of text.split('\n')) {
    const header = headers.find((candidate) => candidate.pattern.test(line));
    if (header) {
      finish();
      current = { part: header.part, lines: [line] };
    } else if (line.trim() === '') {
      finish();
    } else if (current) {
      current.lines.push(line);
    }
  }
  finish();
  return result;
}
