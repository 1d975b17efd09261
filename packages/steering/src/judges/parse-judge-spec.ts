import { TraitlensError } from '@traitlens/core';

/** Which judge a `--judge` value names. */
export type JudgeSpec =
  | { kind: 'openai'; model: string }
  | { kind: 'local'; model: string }
  | { kind: 'lexicon' };

/** Parses `openai:<model>`, `local:<model source>` or `lexicon`. */
export function parseJudgeSpec(text: string): JudgeSpec {
  const trimmed = text.trim();
  if (trimmed === 'lexicon') return { kind: 'lexicon' };
  const colon = trimmed.indexOf(':');
  const kind = colon < 0 ? trimmed : trimmed.slice(0, colon);
  const model = colon < 0 ? '' : trimmed.slice(colon + 1).trim();
  if ((kind === 'openai' || kind === 'local') && model !== '') return { kind, model };
  throw new TraitlensError(
    'INVALID_ARGUMENT',
    `Judge "${text}" is not one of openai:<model> (an OpenAI-compatible endpoint, e.g. openai:gpt-4.1-mini), local:<model> (a local instruct model, e.g. local:hf:Qwen/Qwen2.5-7B-Instruct) or lexicon (the toy word-list judge).`,
    { details: { value: text } },
  );
}
