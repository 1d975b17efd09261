import { readFile } from 'node:fs/promises';
import { createSeededRandom, TraitlensError } from '@traitlens/core';

/** One two-choice item: a question whose text lists (A) and (B), and which letter shows the behaviour. */
export interface AbItem {
  /** Position in its file (0-based), so results point back at the data. */
  index: number;
  question: string;
  /** The answer that shows the behaviour (sycophancy; on TruthfulQA the common misconception), e.g. `(A)`. */
  behaviourAnswer: string;
  /** The other answer, e.g. `(B)`. */
  otherAnswer: string;
  /** TruthfulQA's category, when the file has one. */
  category?: string;
}

const answerPattern = /^\s*\(([A-Z])\)\s*$/;

function fail(file: string, message: string, details: Record<string, unknown> = {}): never {
  throw new TraitlensError('INVALID_DATASET', `${file}: ${message}`, { details: { file, ...details } });
}

function readAnswer(file: string, index: number, record: Record<string, unknown>, field: string): string {
  const value = record[field];
  if (typeof value !== 'string' || !answerPattern.test(value))
    fail(
      file,
      `item ${index}: "${field}" must be an answer letter in parentheses such as "(A)", got ${JSON.stringify(value)}.`,
      { index, field },
    );
  return value.trim();
}

/**
 * Parses a CAA A/B item set as it is: the sycophancy format `{question, answer_matching_behavior,
 * answer_not_matching_behavior}` or the TruthfulQA format `{prompt, correct, incorrect, category?}` (there
 * the "behaviour" is the misconception). Every problem names the file, the item and the field.
 */
export function parseAbItems(value: unknown, file: string): AbItem[] {
  if (!Array.isArray(value)) fail(file, 'expected a JSON array of A/B items.');
  if (value.length === 0) fail(file, 'the item set is empty.');
  return value.map((raw, index) => {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
      fail(file, `item ${index} is not an object.`, { index });
    const record = raw as Record<string, unknown>;
    const truthful = 'correct' in record || 'incorrect' in record;
    const questionField = truthful ? 'prompt' : 'question';
    const question = record[questionField];
    if (typeof question !== 'string' || question.trim() === '')
      fail(
        file,
        `item ${index} has no "${questionField}" text; items need {question, answer_matching_behavior, answer_not_matching_behavior} or {prompt, correct, incorrect}.`,
        { index, field: questionField },
      );
    const behaviourAnswer = readAnswer(
      file,
      index,
      record,
      truthful ? 'incorrect' : 'answer_matching_behavior',
    );
    const otherAnswer = readAnswer(
      file,
      index,
      record,
      truthful ? 'correct' : 'answer_not_matching_behavior',
    );
    if (behaviourAnswer === otherAnswer)
      fail(file, `item ${index}: both answers are ${behaviourAnswer}; the two choices must differ.`, {
        index,
      });
    for (const answer of [behaviourAnswer, otherAnswer]) {
      if (!question.includes(answer))
        fail(file, `item ${index}: the question text does not list the choice ${answer}.`, { index });
    }
    const item: AbItem = { index, question, behaviourAnswer, otherAnswer };
    if (typeof record.category === 'string') item.category = record.category;
    return item;
  });
}

/** Reads an A/B item file (see parseAbItems). */
export async function readAbItems(file: string): Promise<AbItem[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new TraitlensError('FILE_NOT_FOUND', `A/B item file not found: ${file}.`, {
      cause,
      details: { file },
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new TraitlensError('INVALID_DATASET', `${file} is not valid JSON (${(cause as Error).message}).`, {
      cause,
      details: { file },
    });
  }
  return parseAbItems(value, file);
}

/** A reproducible sample of `limit` items (all when the limit is absent or larger), in file order. */
export function sampleAbItems(items: readonly AbItem[], limit: number | undefined, seed: number): AbItem[] {
  if (limit === undefined || limit >= items.length) return [...items];
  const random = createSeededRandom(seed);
  const order = items.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = random.nextInteger(i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order
    .slice(0, limit)
    .sort((a, b) => a - b)
    .map((i) => items[i]!);
}
