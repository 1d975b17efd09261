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
  program
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
    )
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
    )
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
    )
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
    )
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
    )
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
    )
    .action(async (options: AnalyzeCommandOptions) => {
      await runAnalyzeCommand(options);
    });
}

async function runAnalyzeCommand(options: AnalyzeCommandOptions): Promise<void> {
  const [core, analysis, { createProgressDisplay }, { join, relative }] = await Promise.all([
    import('@traitlens/core'),
    import('@traitlens/analysis'),
    import('../progress-display'),
    import('node:path'),
  ]);
  // --variant/--baseline-variant, or the earlier --b/--a (a = baseline, b = the variant compared).
  const variant = options.variant ?? options.b ?? options.a;
  const baseline =
    options.baselineVariant ??
    (options.variant !== undefined || options.b !== undefined ? options.a : undefined);
  if (variant === undefined)
    throw new core.TraitlensError(
      'INVALID_ARGUMENT',
      'Name the variant to analyse: --variant <name> (and --baseline-variant <name> for a model diff), as captured under <experiment>/inference/.',
    );
  if (baseline === variant)
    throw new core.TraitlensError(
      'INVALID_ARGUMENT',
      `--variant and --baseline-variant are both "${variant}"; compare two different variants.`,
    );
  const detectionFeatures =
    options.detectionFeatures === undefined
      ? undefined
      : // The library calls the baseline A and the compared variant B; a variant analysed alone is A.
        (
          {
            baseline: 'a',
            a: 'a',
            variant: baseline === undefined ? 'a' : 'b',
            b: 'b',
            difference: 'difference',
          } as const
        )[options.detectionFeatures];
  if (
    baseline === undefined &&
    (options.detectionFeatures === 'baseline' || options.detectionFeatures === 'difference')
  )
    throw new core.TraitlensError(
      'INVALID_ARGUMENT',
      `--detection-features ${options.detectionFeatures} needs --baseline-variant <name>.`,
    );
  const aggregation = (await import('@traitlens/analysis/internal')).parseResponseAggregation(
    options.aggregation,
  );
  if (
    aggregation.kind === 'window' &&
    aggregation.end !== undefined &&
    Math.sign(aggregation.start) === Math.sign(aggregation.end) &&
    aggregation.end <= aggregation.start
  )
    throw new core.TraitlensError(
      'INVALID_ARGUMENT',
      `--aggregation ${options.aggregation} selects no tokens (the slice ends where or before it starts); use e.g. [:5], [2:10] or [-10:].`,
    );
  if ((options.oodPromptSet === undefined) !== (options.oodLabels === undefined)) {
    throw new core.TraitlensError(
      'INVALID_ARGUMENT',
      '--ood-prompt-set and --ood-labels go together: name the out-of-distribution prompt set and its labels file.',
    );
  }
  const trainGroups = options.trainGroups ?? options.trainBiases;
  const methods = options.methods?.[0] === 'best' ? 'best' : options.methods;
  // The layer count is unknown until the vectors are read; a bound deeper than any model checks the
  // syntax here (and keeps a typo like 0-100000000 from enumerating for minutes).
  const layers = options.layers === 'all' ? undefined : core.parseLayerSelection(options.layers, 4096);
  const display = createProgressDisplay();
  let stageTask: import('../progress-display').ProgressTask | undefined;
  let currentStage = '';
  const summary = await analysis.analyzeExperiment({
    experiment: options.experiment,
    variantA: baseline ?? variant,
    variantB: baseline === undefined ? undefined : variant,
    promptSets: options.promptSet,
    traits: options.traits,
    methods,
    vectorFiles: options.vectors,
    layers,
    measure: options.measure,
    centred: Boolean(options.centred),
    aggregation,
    part: options.part,
    labelsFile: options.labels,
    labelThreshold: options.labelThreshold,
    annotationsFile: options.annotations,
    promptFiles: options.promptFile,
    trainGroups,
    detectionFeatures,
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
  if (summary.prompts.onlyInA + summary.prompts.onlyInB > 0) {
    lines.push(
      `warning: ${summary.prompts.onlyInA} prompts only in ${baseline ?? variant}, ${summary.prompts.onlyInB} only in ${variant}; they were left out`,
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
