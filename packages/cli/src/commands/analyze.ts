import { type Command, InvalidArgumentError } from 'commander';
import { parseInteger, parseList, parseNumber } from '../parse-option-values';

interface AnalyzeCommandOptions {
  experiment: string;
  a: string;
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
  trainBiases?: string[];
  detectionFeatures?: 'a' | 'b' | 'difference';
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

function parseChoice<T extends string>(choices: readonly T[]) {
  return (value: string): T => {
    if (!(choices as readonly string[]).includes(value))
      throw new InvalidArgumentError(`"${value}" is not one of ${choices.join(', ')}.`);
    return value as T;
  };
}

export function registerAnalyzeCommand(program: Command): void {
  program
    .command('analyze')
    .description(
      'Analyse saved activations (STUDY.md sections 6-7): project variants A and B onto trait vectors, model diff with bootstrap intervals, detection and predictivity against labels, token view. Writes <experiment>/analysis/*.json (docs/analysis.md).',
    )
    .requiredOption(
      '--experiment <dir>',
      'experiment folder (holds inference/<variant>/<prompt set>/activations/)',
    )
    .requiredOption('--a <variant>', 'reference variant, e.g. the clean model')
    .option(
      '--b <variant>',
      'variant compared against A, e.g. the LoRA model organism (omit to analyse A alone)',
    )
    .requiredOption(
      '--prompt-set <names>',
      'prompt set(s), comma-separated; several are keyed <set>/<prompt id>',
      parseList,
    )
    .option(
      '--traits <list>',
      'traits (name or category/trait) to analyse (default: all with vectors)',
      parseList,
    )
    .option('--methods <list>', 'extraction methods to use (default: all but random_baseline)', parseList)
    .option(
      '--vectors <files...>',
      'vector files to use instead of <experiment>/extraction/*/*/vectors/*.safetensors',
    )
    .option(
      '--layers <layers>',
      'all, a list 0,3,5 or ranges 2-4 (default: every layer the vectors have)',
      'all',
    )
    .option(
      '--measure <measure>',
      'cosine or scalar projection',
      parseChoice(['cosine', 'scalar'] as const),
      'cosine',
    )
    .option('--centred', "subtract each vector's baseline (projection of the class-mean midpoint) first")
    .option('--aggregation <how>', 'per-response value: mean, max, last or a token slice like [:5]', 'mean')
    .option(
      '--part <part>',
      'tokens to project: response or prompt',
      parseChoice(['response', 'prompt'] as const),
      'response',
    )
    .option('--labels <file>', 'labels per prompt id: 0/1, true/false, judge scores, or an annotation file')
    .option('--label-threshold <score>', 'scores at or above this are label 1', parseNumber)
    .option(
      '--annotations <file>',
      'exploit spans {prompt_id: {exploitations: [{tokens: [start, end)}]}} (labels too, without --labels)',
    )
    .option(
      '--prompt-file <specs...>',
      'prompt-set JSON with bias_id per prompt: <file> or <prompt set>=<file>',
    )
    .option(
      '--train-biases <ids>',
      'bias ids to train the detector on; the other labelled biases are held out',
      parseList,
    )
    .option(
      '--detection-features <which>',
      'detector input: b (default with --b), a, or difference (B - A)',
      parseChoice(['a', 'b', 'difference'] as const),
    )
    .option(
      '--random-baselines <n>',
      'random unit vectors per layer as chance-level controls',
      parseInteger,
      8,
    )
    .option('--bootstrap <n>', 'bootstrap resamples for confidence intervals', parseInteger, 1000)
    .option('--permutations <n>', 'label permutations for the detection p-value (0 skips)', parseInteger, 100)
    .option('--folds <n>', 'cross-validation folds', parseInteger, 5)
    .option(
      '--seed <n>',
      'seed of every random draw (bootstrap, folds, permutations, random vectors)',
      parseInteger,
      0,
    )
    .option('--token-view <n>', 'prompts kept token by token for the report', parseInteger, 12)
    .option(
      '--ood-prompt-set <names>',
      'out-of-distribution prompt set(s) for predictivity (needs --ood-labels)',
      parseList,
    )
    .option('--ood-labels <file>', 'labels of the out-of-distribution prompts')
    .option('--output <dir>', 'where to write (default <experiment>/analysis)')
    .option(
      '--source <files>',
      'activations, or projections (capture projection files, when activations were not stored); default: activations if present',
      parseChoice(['activations', 'projections'] as const),
    )
    .option(
      '--threads <n>',
      'threads projecting in parallel (default: CPU parallelism, at most 8)',
      parseInteger,
    )
    .action(async (options: AnalyzeCommandOptions) => {
      await runAnalyzeCommand(options);
    });
}

async function runAnalyzeCommand(options: AnalyzeCommandOptions): Promise<void> {
  const [core, analysis, { default: cliProgress }, { join, relative }] = await Promise.all([
    import('@traitlens/core'),
    import('@traitlens/analysis'),
    import('cli-progress'),
    import('node:path'),
  ]);
  if ((options.oodPromptSet === undefined) !== (options.oodLabels === undefined)) {
    throw new core.TraitlensError(
      'INVALID_ARGUMENT',
      '--ood-prompt-set and --ood-labels go together: name the out-of-distribution prompt set and its labels file.',
    );
  }
  const trainGroups = options.trainBiases?.map((id) => {
    const value = Number(id);
    if (!Number.isInteger(value))
      throw new core.TraitlensError(
        'INVALID_ARGUMENT',
        `--train-biases: "${id}" is not a bias id (a whole number).`,
      );
    return value;
  });
  // The layer count is unknown until the vectors are read; a large bound only checks the syntax here.
  const layers =
    options.layers === 'all' ? undefined : core.parseLayerSelection(options.layers, Number.MAX_SAFE_INTEGER);
  const bar = process.stderr.isTTY
    ? new cliProgress.SingleBar(
        {
          stream: process.stderr,
          format: '{stage} |{bar}| {value}/{total} files',
          hideCursor: true,
          clearOnComplete: true,
        },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  let currentStage = '';
  const summary = await analysis.analyzeExperiment({
    experiment: options.experiment,
    variantA: options.a,
    ...(options.b ? { variantB: options.b } : {}),
    promptSets: options.promptSet,
    ...(options.traits ? { traits: options.traits } : {}),
    ...(options.methods ? { methods: options.methods } : {}),
    ...(options.vectors ? { vectorFiles: options.vectors } : {}),
    ...(layers ? { layers } : {}),
    measure: options.measure,
    centred: Boolean(options.centred),
    aggregation: analysis.parseResponseAggregation(options.aggregation),
    part: options.part,
    ...(options.labels ? { labelsFile: options.labels } : {}),
    ...(options.labelThreshold !== undefined ? { labelThreshold: options.labelThreshold } : {}),
    ...(options.annotations ? { annotationsFile: options.annotations } : {}),
    ...(options.promptFile ? { promptFiles: options.promptFile } : {}),
    ...(trainGroups ? { trainGroups } : {}),
    ...(options.detectionFeatures ? { detectionFeatures: options.detectionFeatures } : {}),
    randomBaselines: options.randomBaselines,
    bootstrapResamples: options.bootstrap,
    permutations: options.permutations,
    folds: options.folds,
    seed: options.seed,
    tokenViewPrompts: options.tokenView,
    ...(options.oodPromptSet && options.oodLabels
      ? { outOfDistribution: { promptSets: options.oodPromptSet, labelsFile: options.oodLabels } }
      : {}),
    ...(options.output ? { outputDirectory: options.output } : {}),
    ...(options.threads ? { threads: options.threads } : {}),
    ...(options.source ? { source: options.source } : {}),
    onProgress: (stage, done, total) => {
      if (!bar) return;
      if (stage !== currentStage) {
        if (currentStage) bar.stop();
        currentStage = stage;
        bar.start(total, done, { stage: stage.padEnd(12) });
      } else bar.update(done);
    },
  });
  bar?.stop();
  const output = options.output ?? join(options.experiment, 'analysis');
  const lines = [
    `analysed ${summary.prompts.analysed} prompts (${summary.prompts.paired} paired, ${summary.prompts.labelled} labelled) x ${summary.vectors.length} vectors x ${summary.projection.layers.length} layers in ${summary.elapsedSeconds.toFixed(1)} s`,
  ];
  if (summary.prompts.onlyInA + summary.prompts.onlyInB > 0) {
    lines.push(
      `warning: ${summary.prompts.onlyInA} prompts only in ${options.a}, ${summary.prompts.onlyInB} only in ${options.b}; they were left out`,
    );
  }
  for (const peak of summary.highlights.modelDiff.slice(0, 8)) {
    lines.push(
      `  ${peak.vectorId.padEnd(32)} peak layer ${String(peak.peakLayer).padStart(3)}  d ${peak.cohensD.toFixed(2).padStart(6)}  paired d ${(peak.pairedD ?? Number.NaN).toFixed(2).padStart(6)}  p ${peak.p.toExponential(1)}  (random |d| <= ${peak.randomMaxAbsD?.toFixed(2) ?? '-'})`,
    );
  }
  const detection = summary.highlights.detection;
  if (detection) {
    lines.push(
      `detection: layer ${detection.layer}, CV AUROC ${detection.cvAuroc.toFixed(3)} (random vectors ${detection.randomCvAuroc.toFixed(3)})${detection.permutationP === null ? '' : `, permutation p ${detection.permutationP.toFixed(3)}`}${detection.heldOutAuroc === null ? '' : `, held-out biases AUROC ${detection.heldOutAuroc.toFixed(3)}`}`,
    );
  }
  lines.push(
    `wrote ${Object.values(summary.files)
      .map((file) => relative(process.cwd(), join(output, file)))
      .join(', ')}`,
  );
  process.stdout.write(`${lines.join('\n')}\n`);
}
