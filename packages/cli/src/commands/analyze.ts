import { join, relative } from 'node:path';
import type { AnalyzeExperimentOptions, DetectionFeatures, ResponseAggregation } from '@traitlens/analysis';
import { parseLayerSelection, TraitlensError } from '@traitlens/core';
import { type Command, InvalidArgumentError, Option } from 'commander';
import {
  choiceOption,
  collectList,
  integerOption,
  numberOption,
  parseInteger,
  parseList,
} from '../parse-option-values';
import { parseLayerSelectionSyntax } from '../shared-options';

interface AnalyzeCommandOptions {
  experiment: string;
  variant?: string;
  baselineVariant?: string;
  /** Deprecated spellings: --a is the baseline, --b the variant compared with it. */
  a?: string;
  b?: string;
  promptSet: string[];
  traits?: string[];
  methods?: string[];
  vectors?: string[];
  layers: string;
  measure: 'cosine' | 'scalar';
  centred?: boolean;
  aggregation: string;
  part: 'response' | 'prompt';
  labels?: string;
  labelThreshold?: number;
  annotations?: string;
  promptFile?: string[];
  trainGroups?: number[];
  /** Deprecated spelling of --train-groups. */
  trainBiases?: number[];
  detectionFeatures?: 'baseline' | 'variant' | 'difference' | 'a' | 'b';
  randomBaselines: number;
  bootstrap: number;
  permutations: number;
  folds: number;
  seed: number;
  tokenView: number;
  oodPromptSet?: string[];
  oodLabels?: string;
  output?: string;
  threads?: number;
  source?: 'activations' | 'projections';
}

/** Comma-separated whole numbers (prompt group ids). */
function groupIdList(value: string): number[] {
  const ids = parseList(value);
  if (ids.length === 0)
    throw new InvalidArgumentError('Allowed: comma-separated whole numbers, e.g. 44,8,2.');
  return ids.map(integerOption());
}

/** Comma-separated method ids, or `best` alone (per trait, the method extraction ranked best). */
function methodList(value: string): string[] {
  const methods = parseList(value);
  if (methods.includes('best') && methods.length > 1)
    throw new InvalidArgumentError(
      'best chooses one method per trait and goes alone: write best, or list method ids.',
    );
  return methods;
}

export function registerAnalyzeCommand(program: Command): void {
  const command = program
    .command('analyze')
    .description(
      'Analyse saved activations (docs/analysis.md): project a variant (and its baseline) onto trait vectors, model diff with bootstrap intervals, detection and predictivity against labels, token view. Writes <experiment>/analysis/*.json.',
    )
    .requiredOption(
      '--experiment <dir>',
      'experiment folder (holds inference/<variant>/<prompt set>/activations/)',
    )
    .option('--variant <name>', 'the variant analysed, e.g. the LoRA model organism (required)')
    .option(
      '--baseline-variant <name>',
      'the reference it is compared with, e.g. the clean model (model diff = variant - baseline; omit to analyse --variant alone)',
    )
    .addOption(new Option('--a <variant>', 'deprecated: --baseline-variant').hideHelp())
    .addOption(new Option('--b <variant>', 'deprecated: --variant').hideHelp())
    .requiredOption(
      '--prompt-set <names>',
      'prompt set(s), comma-separated or repeated; several are keyed <set>/<prompt id>',
      collectList,
    );
  addVectorOptions(command);
  addProjectionOptions(command);
  addLabelOptions(command);
  addStatisticsOptions(command);
  addOutputOptions(command);
  command.action(async (options: AnalyzeCommandOptions) => {
    await runAnalyzeCommand(options);
  });
}

/** Which vectors: traits, methods (or best), vector files, layers. */
function addVectorOptions(command: Command): void {
  command
    .option(
      '--traits <list>',
      'traits (name or category/trait) to analyse (default: all with vectors)',
      parseList,
    )
    .option(
      '--methods <list>',
      'extraction methods to use (default: all but random_baseline), or best: per trait the method with the best held-out score in its extraction evaluation.json',
      methodList,
    )
    .option(
      '--vectors <files...>',
      'vector files to use instead of <experiment>/extraction/*/*/vectors/*.safetensors',
    )
    .option(
      '--layers <layers>',
      'all, a list 0,3,5 or ranges 2-4 (default: every layer the vectors have)',
      parseLayerSelectionSyntax,
      'all',
    );
}

/** How responses are projected: measure, centring, aggregation, part. */
function addProjectionOptions(command: Command): void {
  command
    .addOption(
      new Option('--measure <measure>', 'cosine or scalar projection')
        .argParser(choiceOption(['cosine', 'scalar'] as const))
        .default('cosine'),
    )
    .option('--centred', "subtract each vector's baseline (projection of the class-mean midpoint) first")
    .option('--aggregation <how>', 'per-response value: mean, max, last or a token slice like [:5]', 'mean')
    .addOption(
      new Option('--part <part>', 'tokens to project: response or prompt')
        .argParser(choiceOption(['response', 'prompt'] as const))
        .default('response'),
    );
}

/** What is known about the prompts: labels, spans, groups, detection features. */
function addLabelOptions(command: Command): void {
  command
    .option('--labels <file>', 'labels per prompt id: 0/1, true/false, judge scores, or an annotation file')
    .option('--label-threshold <score>', 'scores at or above this are label 1', numberOption())
    .option(
      '--annotations <file>',
      'exploit spans {prompt_id: {exploitations: [{tokens: [start, end)}]}} (labels too, without --labels)',
    )
    .option(
      '--prompt-file <specs...>',
      'prompt-set JSON giving each prompt its group (bias_id in the RM-sycophancy sets): <file> or <prompt set>=<file>',
    )
    .option(
      '--train-groups <ids>',
      'prompt groups (whole numbers) to train the detector on; the other labelled groups are held out',
      groupIdList,
    )
    .addOption(
      new Option('--train-biases <ids>', 'deprecated: --train-groups').argParser(groupIdList).hideHelp(),
    )
    .addOption(
      new Option(
        '--detection-features <which>',
        'detector input: variant (the default), baseline, or difference (variant - baseline)',
      ).argParser(choiceOption(['variant', 'baseline', 'difference', 'a', 'b'] as const)),
    );
}

/** Random controls, resampling, folds and the seed. */
function addStatisticsOptions(command: Command): void {
  command
    .addOption(
      new Option('--random-baselines <n>', 'random unit vectors per layer as chance-level controls')
        .argParser(integerOption({ min: 0 }))
        .default(8),
    )
    .addOption(
      new Option('--bootstrap <n>', 'bootstrap resamples for confidence intervals')
        .argParser(integerOption({ min: 1 }))
        .default(1000),
    )
    .addOption(
      new Option('--permutations <n>', 'label permutations for the detection p-value (0 skips)')
        .argParser(integerOption({ min: 0 }))
        .default(100),
    )
    .addOption(
      new Option('--folds <n>', 'cross-validation folds').argParser(integerOption({ min: 2 })).default(5),
    )
    .option(
      '--seed <n>',
      'seed of every random draw (bootstrap, folds, permutations, random vectors)',
      parseInteger,
      0,
    );
}

/** Token view, out-of-distribution sets, where to write, what to read, threads. */
function addOutputOptions(command: Command): void {
  command
    .addOption(
      new Option('--token-view <n>', 'prompts kept token by token for the report')
        .argParser(integerOption({ min: 0 }))
        .default(12),
    )
    .option(
      '--ood-prompt-set <names>',
      'out-of-distribution prompt set(s) for predictivity (needs --ood-labels)',
      parseList,
    )
    .option('--ood-labels <file>', 'labels of the out-of-distribution prompts')
    .option('--output <dir>', 'where to write (default <experiment>/analysis)')
    .addOption(
      new Option(
        '--source <files>',
        'activations, or projections (capture projection files, when activations were not stored); default: activations if present',
      ).argParser(choiceOption(['activations', 'projections'] as const)),
    )
    .addOption(
      new Option(
        '--threads <n>',
        'threads projecting in parallel (default: CPU parallelism, at most 8)',
      ).argParser(integerOption({ min: 1 })),
    );
}

async function runAnalyzeCommand(options: AnalyzeCommandOptions): Promise<void> {
  const analysisOptions = await parseAnalyzeOptions(options);
  const [analysis, { createProgressDisplay }] = await Promise.all([
    import('@traitlens/analysis'),
    import('../progress-display'),
  ]);
  const display = createProgressDisplay();
  let stageTask: import('../progress-display').ProgressTask | undefined;
  let currentStage = '';
  const summary = await analysis.analyzeExperiment({
    ...analysisOptions,
    onProgress: (stage, done, total) => {
      if (stage !== currentStage) {
        stageTask?.finish();
        currentStage = stage;
        stageTask = display.task(stage, { total, unit: 'files' });
      }
      stageTask?.update(done, total);
    },
  });
  stageTask?.finish();
  display.stop();
  const output = options.output ?? join(options.experiment, 'analysis');
  const lines = [
    `analysed ${summary.prompts.analysed} prompts (${summary.prompts.paired} paired, ${summary.prompts.labelled} labelled) x ${summary.vectors.length} vectors x ${summary.projection.layers.length} layers in ${summary.elapsedSeconds.toFixed(1)} s`,
  ];
  if (analysisOptions.methods === 'best') {
    const chosen = summary.vectors.filter((vector) => !vector.isRandomBaseline);
    lines.push(`best method per trait: ${chosen.map((vector) => vector.id).join(', ')}`);
  }
  if (summary.prompts.onlyInA + summary.prompts.onlyInB > 0) {
    const { a, b } = summary.variants;
    lines.push(
      `warning: ${summary.prompts.onlyInA} prompts only in ${a}, ${summary.prompts.onlyInB} only in ${b ?? a}; they were left out`,
    );
  }
  lines.push(...analysis.formatAnalysisSummary(summary));
  lines.push(
    `wrote ${Object.values(summary.files)
      .map((file) => relative(process.cwd(), join(output, file)))
      .join(', ')}`,
  );
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** Checks the options and turns them into `analyzeExperiment`'s, before anything is read. */
async function parseAnalyzeOptions(options: AnalyzeCommandOptions): Promise<AnalyzeExperimentOptions> {
  const { variant, baseline } = resolveVariants(options);
  if ((options.oodPromptSet === undefined) !== (options.oodLabels === undefined)) {
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      '--ood-prompt-set and --ood-labels go together: name the out-of-distribution prompt set and its labels file.',
    );
  }
  return {
    experiment: options.experiment,
    variantA: baseline ?? variant,
    variantB: baseline === undefined ? undefined : variant,
    promptSets: options.promptSet,
    traits: options.traits,
    methods: options.methods?.[0] === 'best' ? 'best' : options.methods,
    vectorFiles: options.vectors,
    // The layer count is unknown until the vectors are read; a bound deeper than any model checks the
    // syntax here (and keeps a typo like 0-100000000 from enumerating for minutes).
    layers: options.layers === 'all' ? undefined : parseLayerSelection(options.layers, 4096),
    measure: options.measure,
    centred: Boolean(options.centred),
    aggregation: await parseAggregation(options.aggregation),
    part: options.part,
    labelsFile: options.labels,
    labelThreshold: options.labelThreshold,
    annotationsFile: options.annotations,
    promptFiles: options.promptFile,
    trainGroups: options.trainGroups ?? options.trainBiases,
    detectionFeatures: parseDetectionFeatures(options.detectionFeatures, baseline),
    randomBaselines: options.randomBaselines,
    bootstrapResamples: options.bootstrap,
    permutations: options.permutations,
    folds: options.folds,
    seed: options.seed,
    tokenViewPrompts: options.tokenView,
    outOfDistribution:
      options.oodPromptSet && options.oodLabels
        ? { promptSets: options.oodPromptSet, labelsFile: options.oodLabels }
        : undefined,
    outputDirectory: options.output,
    threads: options.threads,
    source: options.source,
  };
}

/** --variant/--baseline-variant, or the earlier --b/--a (a = baseline, b = the variant compared). */
function resolveVariants(options: AnalyzeCommandOptions): { variant: string; baseline: string | undefined } {
  const variant = options.variant ?? options.b ?? options.a;
  const baseline =
    options.baselineVariant ??
    (options.variant !== undefined || options.b !== undefined ? options.a : undefined);
  if (variant === undefined)
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      'Name the variant to analyse: --variant <name> (and --baseline-variant <name> for a model diff), as captured under <experiment>/inference/.',
    );
  if (baseline === variant)
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      `--variant and --baseline-variant are both "${variant}"; compare two different variants.`,
    );
  return { variant, baseline };
}

/** The library calls the baseline A and the compared variant B; a variant analysed alone is A. */
function parseDetectionFeatures(
  features: AnalyzeCommandOptions['detectionFeatures'],
  baseline: string | undefined,
): DetectionFeatures | undefined {
  if (features === undefined) return undefined;
  if (baseline === undefined && (features === 'baseline' || features === 'difference'))
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      `--detection-features ${features} needs --baseline-variant <name>.`,
    );
  const byName = {
    baseline: 'a',
    a: 'a',
    variant: baseline === undefined ? 'a' : 'b',
    b: 'b',
    difference: 'difference',
  } as const;
  return byName[features];
}

/** --aggregation: mean, max, last or a token slice that selects at least one token. */
async function parseAggregation(text: string): Promise<ResponseAggregation> {
  const { parseResponseAggregation } = await import('@traitlens/analysis/internal');
  const aggregation = parseResponseAggregation(text);
  if (
    aggregation.kind === 'window' &&
    aggregation.end !== undefined &&
    Math.sign(aggregation.start) === Math.sign(aggregation.end) &&
    aggregation.end <= aggregation.start
  )
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      `--aggregation ${text} selects no tokens (the slice ends where or before it starts); use e.g. [:5], [2:10] or [-10:].`,
    );
  return aggregation;
}
