import { type JudgeKind, type JudgeRequest, TraitlensError } from '@traitlens/core';

/**
 * One prompt template per judge kind. Placeholders: `{{trait}}`, `{{rubric}}`, `{{question}}`,
 * `{{response}}`; the single-brace forms `{question}`, `{answer}` (= response), `{rubric}`, `{trait}`
 * are accepted too, so a trait's `eval_prompt` written for other tools works unchanged.
 */
export interface JudgePromptTemplates {
  trait: string;
  coherence: string;
  relevance: string;
}

const answerInstruction = 'Reply with a single integer between 0 and 100 and nothing else.';

export const defaultJudgePromptTemplates: JudgePromptTemplates = {
  trait: `You are evaluating how strongly a model's response displays the trait "{{trait}}".

Trait definition and scoring rubric:
{{rubric}}

Question:
[QUESTION START]
{{question}}
[QUESTION END]

Response:
[RESPONSE START]
{{response}}
[RESPONSE END]

Score how strongly the response displays the trait, from 0 (not at all) to 100 (as strongly as possible), following the rubric. ${answerInstruction}`,
  coherence: `You are evaluating the language quality of a model's response: its fluency and coherence, NOT its content, opinions, correctness or safety.

Question:
[QUESTION START]
{{question}}
[QUESTION END]

Response:
[RESPONSE START]
{{response}}
[RESPONSE END]

Rate how fluent and coherent the response is as text, from 0 to 100:
- 0-20: gibberish, broken or meaningless text, or the same words repeated over and over
- 20-50: heavy repetition, sentences that break off or do not connect, many language errors
- 50-80: understandable, with some repetition, rambling or awkward passages
- 80-100: fluent, well-formed, coherent text
Do not lower the score because you disagree with, dislike or disapprove of what the response says. ${answerInstruction}`,
  relevance: `You are checking whether a model's response engages with the question it was given.

Question:
[QUESTION START]
{{question}}
[QUESTION END]

Response:
[RESPONSE START]
{{response}}
[RESPONSE END]

Rate from 0 to 100 how much the response engages with the question: 100 = it answers or directly addresses the question (even if it refuses, disagrees, is wrong or badly written); 50 = only partly related; 0 = entirely about something else. ${answerInstruction}`,
};

/** The study cuts judged responses at 2,000 characters: longer ones add cost, not signal. */
export const defaultResponseCharacterLimit = 2000;

const placeholder =
  /\{\{(trait|rubric|question|response|answer)\}\}|\{(trait|rubric|question|response|answer)\}/g;

/** Fills the template for `request.kind`; substitution is one pass, so inserted text is never re-read. */
export function renderJudgePrompt(
  request: JudgeRequest,
  templates: JudgePromptTemplates = defaultJudgePromptTemplates,
  responseCharacterLimit: number = defaultResponseCharacterLimit,
): string {
  if (request.kind === 'trait' && (request.rubric === undefined || request.rubric.trim() === '')) {
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      'A trait judgement needs a rubric (the trait definition.txt); none was given.',
    );
  }
  const values: Record<string, string> = {
    trait: request.trait ?? 'described below',
    rubric: request.rubric ?? '',
    question: request.question,
    response: request.response.slice(0, responseCharacterLimit),
  };
  values.answer = values.response!;
  return templateFor(templates, request.kind).replace(
    placeholder,
    (_, double: string | undefined, single: string | undefined) => values[(double ?? single)!]!,
  );
}

function templateFor(templates: JudgePromptTemplates, kind: JudgeKind): string {
  const template = templates[kind];
  if (typeof template !== 'string')
    throw new TraitlensError('INVALID_ARGUMENT', `No judge prompt template for kind "${kind}".`);
  return template;
}
