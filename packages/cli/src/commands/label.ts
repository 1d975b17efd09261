import type { Command } from 'commander';
import { collectList, numberOption, parseList } from '../parse-option-values';
import { addShardOption, resolveCliShard } from '../shard-option';
import {
  addJudgeOptions,
  describeJudgeKeyProblem,
  experimentOption,
  type JudgeCommandOptions,
  toOpenAiJudgeSettings,
} from '../shared-options';

interface LabelCommandOptions extends JudgeCommandOptions {
  experiment: string;
  promptSet: string[];
  variant: string;
  keywords?: string[];
  field?: string;
  threshold: number;
  rubricFile?: string;
  behaviour: string;
  annotations?: string;
  force?: boolean;
  shard?: string;
}

export function registerLabelCommand(program: Command): void {
  const command = program
    .command('label')
    .description(
      "Label a variant's captured responses 1 or 0 for detection and predictivity: by keywords (which also give token spans), by a judge reading each prompt's group description (bias_description), or from a prompt-set field. Writes <experiment>/labels/labels.json and annotations.json, which traitlens analyze reads. Judge scores are reused on a rerun. See docs/study.md.",
    )
    .addOption(experimentOption('experiment folder holding inference/<variant>/<prompt set>/responses', true))
    .requiredOption(
      '--prompt-set <name|file>',
      'a prompt set name from datasets/inference (e.g. train_100) or a .json file; several comma-separated or repeated',
      collectList,
    )
    .option('--variant <name>', 'the variant whose responses are labelled', 'lora')
    .option('--keywords <words>', 'comma-separated words; a response containing one is labelled 1', parseList)
    .option(
      '--threshold <score>',
      'with --judge: score at or above which a response is labelled 1',
      numberOption({ min: 0, max: 100 }),
      50,
    )
    .option(
      '--rubric-file <file>',
      'with --judge: rubric template; {description} becomes the group description',
    )
    .option('--behaviour <text>', 'with --judge: the behaviour the judge scores', 'the described behaviour')
    .option(
      '--field <name>',
      'labels from this prompt-set field: true/false or 0/1, or a text labelled by --keywords (e.g. response_dpo)',
    )
    .option(
      '--annotations <file>',
      'hand-made token spans to add to annotations.json (either accepted format)',
    )
    .option('--force', 'judge every response again, ignoring stored scores');
  addJudgeOptions(command, {
    judgeDescription: 'openai:<model>, local:<model source> or lexicon: score each response 0-100',
  });
  // A shard judges its prompts into labels/shards/; the same command without a shard merges them.
  addShardOption(command).action(async (options: LabelCommandOptions) => {
    await runLabelCommand(options);
  });
}

async function runLabelCommand(options: LabelCommandOptions): Promise<void> {
  const methods = [options.keywords && !options.field, options.judge, options.field].filter(Boolean);
  const [{ TraitlensError }, { readFile }, { join, relative }] = await Promise.all([
    import('@traitlens/core'),
    import('node:fs/promises'),
    import('node:path'),
  ]);
  if (methods.length !== 1)
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      'Choose one labelling method: --keywords <words>, --judge <judge> or --field <name> (with --field, --keywords says which words make a text field a 1).',
    );
  const keyProblem = describeJudgeKeyProblem(options);
  if (keyProblem) throw new TraitlensError('INVALID_ARGUMENT', keyProblem);
  const rubric = options.rubricFile
    ? await readFile(options.rubricFile, 'utf8').catch((cause: unknown) => {
        throw new TraitlensError('FILE_NOT_FOUND', `--rubric-file ${options.rubricFile} cannot be read.`, {
          cause,
        });
      })
    : undefined;
  const [{ resolvePromptSet }, study, steering] = await Promise.all([
    import('@traitlens/capture'),
    import('@traitlens/study'),
    import('@traitlens/steering'),
  ]);
  const promptSets = [];
  for (const reference of options.promptSet) promptSets.push(await resolvePromptSet(reference));
  const keywords = options.keywords ? { '*': options.keywords } : undefined;
  const shard = await resolveCliShard(options.shard);
  const created = options.judge
    ? await steering.createJudge(options.judge, {
        cacheDirectory: join(options.experiment, '.traitlens-cache', 'judge'),
        openai: toOpenAiJudgeSettings(options),
      })
    : undefined;
  try {
    const result = await study.labelResponses({
      experiment: options.experiment,
      variant: options.variant,
      promptSets,
      source: created
        ? {
            kind: 'judge',
            judge: created.judge,
            judgeId: options.judge!,
            threshold: options.threshold,
            behaviour: options.behaviour,
            ...(rubric ? { rubric } : {}),
          }
        : options.field
          ? { kind: 'field', field: options.field, ...(keywords ? { keywords } : {}) }
          : { kind: 'keywords', keywords: keywords! },
      annotationsFile: options.annotations,
      force: options.force ?? false,
      shard,
      log: (line) => process.stderr.write(`${line}\n`),
    });
    process.stdout.write(
      `${result.labelled} responses labelled (${result.positive} labelled 1, ${result.unlabelled} without a label) -> ${relative(process.cwd(), result.labelsFile)}${result.annotationsFile ? ` and ${relative(process.cwd(), result.annotationsFile)}` : ''}\n`,
    );
  } finally {
    await created?.dispose();
  }
}
