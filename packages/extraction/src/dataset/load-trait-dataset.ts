import { TraitlensError } from '@traitlens/core';
import { formatDatasetIssue } from './dataset-issue';
import type { TraitDataset } from './trait-dataset';
import {
  isBlockingDatasetIssue,
  type ValidateTraitDatasetOptions,
  validateTraitDataset,
} from './validate-trait-dataset';

export interface LoadTraitDatasetOptions extends ValidateTraitDatasetOptions {
  /** Also fail when definition.txt is missing or incomplete (vetting needs the rubric). */
  requireRubric?: boolean;
}

/**
 * Loads a trait folder for extraction. Fails (INVALID_DATASET, listing each problem with file and line)
 * only when the prompts cannot be used, or the rubric is needed and unusable; everything else stays in
 * `dataset.issues`, so data sets in the study's format load unchanged.
 */
export async function loadTraitDataset(
  directory: string,
  options: LoadTraitDatasetOptions = {},
): Promise<TraitDataset> {
  const validation = await validateTraitDataset(directory, options);
  const fatal = validation.issues.filter(
    (issue) =>
      isBlockingDatasetIssue(issue) ||
      (options.requireRubric === true &&
        (issue.code === 'missing-rubric' || issue.code === 'incomplete-rubric')),
  );
  if (fatal.length > 0 || !validation.dataset) {
    const listed = fatal.slice(0, 10).map((issue) => `  ${formatDatasetIssue(validation.directory, issue)}`);
    const more = fatal.length > 10 ? [`  ... and ${fatal.length - 10} more`] : [];
    throw new TraitlensError(
      'INVALID_DATASET',
      [
        `Trait data set ${validation.directory} cannot be used:`,
        ...listed,
        ...more,
        'Fix these, then check with `traitlens datasets validate`.',
      ].join('\n'),
      {
        details: { directory: validation.directory, issues: fatal },
      },
    );
  }
  return validation.dataset;
}
