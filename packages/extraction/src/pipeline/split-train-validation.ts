import { TraitlensError } from '@traitlens/core';
import type { ActivationRowSource } from './window-activations';

/** Row indices of one class on each side of the split. */
export interface ClassSplit {
  train: number[];
  validation: number[];
}

/**
 * Holds out the last `validationFraction` of a class's prompts (docs/study-method.md §3.1: the last 10-20%), by prompt
 * index, so every rollout of a prompt lands on the same side and nothing leaks from train to validation.
 * At least one prompt goes to each side.
 */
export function splitTrainValidation(
  rows: readonly ActivationRowSource[],
  validationFraction: number,
  label = 'class',
): ClassSplit {
  if (!(validationFraction > 0 && validationFraction < 1)) {
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      `validationFraction must be between 0 and 1 (the study used 0.1-0.2); got ${validationFraction}.`,
    );
  }
  const prompts = [...new Set(rows.map((row) => row.promptIndex))].sort((a, b) => a - b);
  if (prompts.length < 2) {
    throw new TraitlensError(
      'INSUFFICIENT_DATA',
      `The ${label} class has ${prompts.length} usable prompt${prompts.length === 1 ? '' : 's'}; at least 2 are needed (one to train on, one to validate).`,
      {
        details: { prompts: prompts.length },
      },
    );
  }
  const validationCount = Math.min(
    prompts.length - 1,
    Math.max(1, Math.round(prompts.length * validationFraction)),
  );
  const firstValidationPrompt = prompts[prompts.length - validationCount]!;
  const split: ClassSplit = { train: [], validation: [] };
  rows.forEach((row, index) => {
    (row.promptIndex >= firstValidationPrompt ? split.validation : split.train).push(index);
  });
  return split;
}
