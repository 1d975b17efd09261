import { readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { TraitlensError } from '@traitlens/core';

/** What steering needs from a trait folder. */
export interface SteeringTrait {
  /** Folder name, e.g. `happiness`. */
  name: string;
  directory: string;
  /** definition.txt: the judge rubric. */
  rubric: string;
  /** steering.json `questions`: prompts whose unsteered answers score low on the trait. */
  questions: string[];
  /** steering.json `eval_prompt`: a trait-specific judge prompt that replaces the default trait template. */
  evalPrompt?: string;
}

/** Reads `definition.txt` and `steering.json` from a trait folder, with errors that say what to fix. */
export async function loadSteeringTrait(directory: string): Promise<SteeringTrait> {
  const folder = resolve(directory);
  const definitionPath = join(folder, 'definition.txt');
  const steeringPath = join(folder, 'steering.json');
  const rubric = (
    await readTraitFile(
      definitionPath,
      'definition.txt holds the judge rubric (a HIGH paragraph, a LOW paragraph and a "Key:" line)',
    )
  ).trim();
  if (rubric === '')
    throw new TraitlensError('INVALID_DATASET', `${definitionPath} is empty; write the judge rubric there.`, {
      details: { file: definitionPath },
    });
  const steeringText = await readTraitFile(
    steeringPath,
    'steering.json lists the steering questions: {"questions": ["...", "..."]}',
  );
  let parsed: unknown;
  try {
    parsed = JSON.parse(steeringText);
  } catch (cause) {
    throw new TraitlensError(
      'INVALID_DATASET',
      `${steeringPath} is not valid JSON (${(cause as Error).message}).`,
      { cause, details: { file: steeringPath } },
    );
  }
  const record = (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? parsed : {}) as {
    questions?: unknown;
    eval_prompt?: unknown;
  };
  const questions = record.questions;
  if (!Array.isArray(questions) || questions.length === 0) {
    throw new TraitlensError(
      'INVALID_DATASET',
      `${steeringPath} has no steering questions: it needs a non-empty "questions" array of strings, e.g. {"questions": ["How do you handle criticism?"]}.`,
      { details: { file: steeringPath, field: 'questions' } },
    );
  }
  const badIndex = questions.findIndex((question) => typeof question !== 'string' || question.trim() === '');
  if (badIndex >= 0) {
    throw new TraitlensError(
      'INVALID_DATASET',
      `${steeringPath}: questions[${badIndex}] is ${JSON.stringify(questions[badIndex])}; every question must be a non-empty string.`,
      { details: { file: steeringPath, field: `questions[${badIndex}]` } },
    );
  }
  if (record.eval_prompt !== undefined && typeof record.eval_prompt !== 'string') {
    throw new TraitlensError(
      'INVALID_DATASET',
      `${steeringPath}: "eval_prompt" must be a string (a judge prompt template with {question} and {answer}).`,
      { details: { file: steeringPath, field: 'eval_prompt' } },
    );
  }
  const trait: SteeringTrait = {
    name: basename(folder),
    directory: folder,
    rubric,
    questions: questions as string[],
  };
  if (typeof record.eval_prompt === 'string') trait.evalPrompt = record.eval_prompt;
  return trait;
}

async function readTraitFile(path: string, purpose: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new TraitlensError(
        'INVALID_DATASET',
        `The trait folder has no ${basename(path)} (looked for ${path}); ${purpose}.`,
        { cause, details: { file: path } },
      );
    }
    throw cause;
  }
}
