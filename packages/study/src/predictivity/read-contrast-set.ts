import { readFile } from 'node:fs/promises';
import { TraitlensError } from '@traitlens/core';

/** One free-text contrast item: a question, the answer showing the behaviour, and its contrast. */
export interface ContrastItem {
  question: string;
  /** The answer that shows the behaviour (label 1). */
  answer: string;
  /** The contrasting answer (label 0). */
  contrastiveAnswer: string;
}

/**
 * Parses the free-text contrast format `[{question, answer, contrastive_answer}]` (the second study's held-
 * out sets) as it is; every problem is listed with its item index.
 */
export function parseContrastSet(value: unknown, file: string): ContrastItem[] {
  if (!Array.isArray(value))
    throw new TraitlensError(
      'INVALID_DATASET',
      `${file} must be a JSON array of {"question", "answer", "contrastive_answer"} items.`,
      { details: { file } },
    );
  const problems: string[] = [];
  const items: ContrastItem[] = [];
  value.forEach((entry, index) => {
    const record = (entry ?? {}) as Record<string, unknown>;
    const missing = ['question', 'answer', 'contrastive_answer'].filter(
      (key) => typeof record[key] !== 'string' || (record[key] as string).trim() === '',
    );
    if (missing.length > 0) {
      problems.push(`item ${index}: ${missing.map((key) => `"${key}"`).join(', ')} must be non-empty text`);
      return;
    }
    if (record.answer === record.contrastive_answer)
      problems.push(`item ${index}: "answer" and "contrastive_answer" are identical`);
    items.push({
      question: record.question as string,
      answer: record.answer as string,
      contrastiveAnswer: record.contrastive_answer as string,
    });
  });
  if (problems.length > 0)
    throw new TraitlensError(
      'INVALID_DATASET',
      `${file} is not a valid contrast set:\n${problems
        .slice(0, 10)
        .map((problem) => `  ${problem}`)
        .join('\n')}${problems.length > 10 ? `\n  ... and ${problems.length - 10} more` : ''}`,
      { details: { file } },
    );
  return items;
}

/** Reads a contrast set file (see parseContrastSet). */
export async function readContrastSet(file: string): Promise<ContrastItem[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new TraitlensError('FILE_NOT_FOUND', `Contrast set not found: ${file}.`, {
      cause,
      details: { file },
    });
  }
  try {
    return parseContrastSet(JSON.parse(text), file);
  } catch (cause) {
    if (TraitlensError.isInstance(cause)) throw cause;
    throw new TraitlensError('INVALID_DATASET', `${file} is not valid JSON: ${(cause as Error).message}`, {
      cause,
      details: { file },
    });
  }
}
