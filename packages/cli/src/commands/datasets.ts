import type { Command } from 'commander';
import { choiceOption } from '../parse-option-values';

interface DatasetsValidateOptions {
  strict?: boolean;
  variant: 'auto' | 'text' | 'jsonl';
}

export function registerDatasetsCommand(program: Command): void {
  const datasets = program
    .command('datasets')
    .description('Work with trait data sets (datasets/traits/<category>/<trait>/).');
  datasets
    .command('validate')
    .description(
      'Check trait data sets: prompt files (.txt or .jsonl), the HIGH/LOW/Key rubric and steering.json. Prints every problem as file:line: severity: message and exits non-zero on errors.',
    )
    .argument('<dir>', 'a trait folder, or a folder holding trait folders (searched recursively)')
    .option('--strict', 'treat warnings as errors too')
    .option(
      '--variant <variant>',
      'prompt files to check: auto, text (.txt) or jsonl',
      choiceOption(['auto', 'text', 'jsonl'] as const),
      'auto',
    )
    .action(async (directory: string, options: DatasetsValidateOptions) => {
      await runDatasetsValidate(directory, options);
    });
}

async function runDatasetsValidate(directory: string, options: DatasetsValidateOptions): Promise<void> {
  const [{ TraitlensError }, extraction, extractionInternal, { relative }] = await Promise.all([
    import('@traitlens/core'),
    import('@traitlens/extraction'),
    import('@traitlens/extraction/internal'),
    import('node:path'),
  ]);
  const folders = await extraction.findTraitDatasets(directory).catch((cause: unknown) => {
    throw new TraitlensError(
      'FILE_NOT_FOUND',
      `${directory} is not a readable folder; pass a trait folder or a folder of them.`,
      { cause },
    );
  });
  if (folders.length === 0) {
    throw new TraitlensError(
      'INVALID_DATASET',
      `No trait data sets under ${directory}: a trait folder holds positive.txt and negative.txt (or positive.jsonl and negative.jsonl).`,
    );
  }
  let errors = 0;
  let warnings = 0;
  const failed: string[] = [];
  for (const folder of folders) {
    const { issues } = await extraction.validateTraitDataset(folder, { variant: options.variant });
    const folderErrors = issues.filter((issue) => issue.severity === 'error' || options.strict).length;
    errors += issues.filter((issue) => issue.severity === 'error').length;
    warnings += issues.filter((issue) => issue.severity === 'warning').length;
    for (const issue of issues)
      process.stdout.write(`${extractionInternal.formatDatasetIssue(folder, issue)}\n`);
    const name = relative(process.cwd(), folder) || folder;
    if (folderErrors > 0) failed.push(name);
    else process.stdout.write(`ok ${name}\n`);
  }
  const summary = `${folders.length} data set${folders.length === 1 ? '' : 's'} checked: ${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}.`;
  if (failed.length > 0) {
    throw new TraitlensError(
      'INVALID_DATASET',
      `${summary} Failed${options.strict ? ' (--strict)' : ''}: ${failed.join(', ')}.`,
      {
        details: { failed, errors, warnings },
      },
    );
  }
  process.stderr.write(`${summary}\n`);
}
