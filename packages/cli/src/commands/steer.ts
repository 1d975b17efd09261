import { type Command, InvalidArgumentError } from 'commander';
import { parseInteger, parseList, parseNumber } from '../parse-option-values';

interface SteerCommandOptions {
  model: string;
  trait: string;
  vectors: string;
  layers?: string;
  judge: string;
  judgeBaseUrl?: string;
  judgeConcurrency: number;
  steps: number;
  direction: 'positive' | 'negative';
  coefficients?: number[];
  upMultiplier: number;
  downMultiplier: number;
  momentum: number;
  coherenceThreshold: number;
  multiLayer?: 'weighted' | 'orthogonal';
  mode: 'add' | 'ablate';
  positions: 'all' | 'prompt' | 'response';
  experiment: string;
  maxNewTokens: number;
  questions?: number;
  batchSize: number;
  relevance: boolean;
  dtype: 'fp32' | 'fp16';
  threads?: number;
}

function parseChoice<T extends string>(choices: readonly T[]): (value: string) => T {
  return (value) => {
    if (!(choices as readonly string[]).includes(value))
      throw new InvalidArgumentError(`"${value}" is not one of ${choices.join(', ')}.`);
    return value as T;
  };
}

function parseNumberList(value: string): number[] {
  return parseList(value).map(parseNumber);
}

export function registerSteerCommand(program: Command): void {
  program
    .command('steer')
    .description(
      'Validate a trait vector causally: steer the model with it, have a judge score trait and coherence, and search the coefficient per layer (STUDY.md section 4). Resumable: re-running skips finished steps.',
    )
    .requiredOption('--model <source>', 'the model to steer: local folder or hf:org/name[@revision]')
    .requiredOption('--trait <dir>', 'trait folder with definition.txt and steering.json')
    .requiredOption('--vectors <file>', 'trait vector file (.safetensors)')
    .option(
      '--layers <layers>',
      'layers to steer: all, 0,3,5 or 2-4 (default: every layer in the vector file)',
    )
    .option(
      '--judge <judge>',
      'openai:<model>, local:<model source> or lexicon (toy word-list judge)',
      'openai:gpt-4.1-mini',
    )
    .option(
      '--judge-base-url <url>',
      'OpenAI-compatible /v1 base URL (default: OPENAI_BASE_URL, then OpenAI); key from OPENAI_API_KEY',
    )
    .option('--judge-concurrency <n>', 'judge requests in flight at once', parseInteger, 8)
    .option('--steps <n>', 'adaptive search steps per layer', parseInteger, 6)
    .option(
      '--direction <direction>',
      'positive (raise the trait) or negative (lower it)',
      parseChoice(['positive', 'negative'] as const),
      'positive',
    )
    .option(
      '--coefficients <list>',
      'a manual grid of coefficients instead of the adaptive search, e.g. 2,4,8',
      parseNumberList,
    )
    .option('--up-multiplier <x>', 'coefficient multiplier after a coherent step', parseNumber, 1.3)
    .option('--down-multiplier <x>', 'coefficient multiplier after an incoherent step', parseNumber, 0.85)
    .option('--momentum <m>', 'momentum of the multiplier, 0 to <1 (0 = off)', parseNumber, 0)
    .option('--coherence-threshold <t>', 'mean coherence that counts as coherent', parseNumber, 70)
    .option(
      '--multi-layer <strategy>',
      'then combine the best layers: weighted or orthogonal',
      parseChoice(['weighted', 'orthogonal'] as const),
    )
    .option(
      '--mode <mode>',
      'add (h + c v) or ablate (h - c (h.u) u)',
      parseChoice(['add', 'ablate'] as const),
      'add',
    )
    .option(
      '--positions <positions>',
      'steer all tokens, the prompt only, or the response only',
      parseChoice(['all', 'prompt', 'response'] as const),
      'all',
    )
    .option(
      '--experiment <dir>',
      'experiment folder; results go to <dir>/steering/<trait>/',
      'experiments/default',
    )
    .option('--max-new-tokens <n>', 'tokens generated per answer', parseInteger, 64)
    .option('--questions <n>', 'use only the first n steering questions', parseInteger)
    .option('--batch-size <n>', 'rows per batched generate call', parseInteger, 32)
    .option(
      '--no-relevance',
      'skip the relevance check (off-topic answers otherwise get coherence capped at 50)',
    )
    .option('--dtype <dtype>', 'fp32 or fp16', parseChoice(['fp32', 'fp16'] as const), 'fp32')
    .option('--threads <n>', 'CPU threads', parseInteger)
    .action(async (options: SteerCommandOptions) => {
      await runSteerCommand(options);
    });
}

async function runSteerCommand(options: SteerCommandOptions): Promise<void> {
  const [
    { experimentLayout, parseLayerSelection, readTraitVectors },
    { loadModel },
    steering,
    { default: cliProgress },
    { join },
  ] = await Promise.all([
    import('@traitlens/core'),
    import('@traitlens/model-runtime'),
    import('@traitlens/steering'),
    import('cli-progress'),
    import('node:path'),
  ]);
  // Bars only on a terminal; a log file gets the per-run lines alone.
  const bars = process.stderr.isTTY
    ? new cliProgress.MultiBar(
        {
          stream: process.stderr,
          clearOnComplete: false,
          hideCursor: true,
          format: '{label} |{bar}| {value}/{total}',
          autopadding: true,
        },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  const log = (line: string) => (bars ? bars.log(`${line}\n`) : process.stderr.write(`${line}\n`));

  const trait = await steering.loadSteeringTrait(options.trait);
  const vectors = await readTraitVectors(options.vectors);
  const loadOptions = { dtype: options.dtype, ...(options.threads ? { threads: options.threads } : {}) };
  log(`loading ${options.model}`);
  const model = await loadModel(options.model, loadOptions);
  const layout = experimentLayout(options.experiment);
  const created = await steering.createJudge(options.judge, {
    ...(trait.evalPrompt === undefined ? {} : { evalPrompt: trait.evalPrompt }),
    cacheDirectory: join(options.experiment, '.traitlens-cache', 'judge'),
    openai: {
      concurrency: options.judgeConcurrency,
      ...(options.judgeBaseUrl ? { baseUrl: options.judgeBaseUrl } : {}),
    },
    loadModelOptions: loadOptions,
  });
  const generationBar = bars?.create(0, 0, { label: 'generate' });
  const judgingBar = bars?.create(0, 0, { label: 'judge   ' });
  try {
    const evaluation = await steering.evaluateSteering({
      model,
      judge: created.judge,
      trait,
      vectors,
      vectorsFile: options.vectors,
      outputDirectory: layout.steering(trait.name).root,
      ...(options.layers ? { layers: parseLayerSelection(options.layers, model.config.layerCount) } : {}),
      ...(options.coefficients ? { coefficients: options.coefficients } : {}),
      search: {
        steps: options.steps,
        direction: options.direction,
        upMultiplier: options.upMultiplier,
        downMultiplier: options.downMultiplier,
        momentum: options.momentum,
        coherenceThreshold: options.coherenceThreshold,
      },
      ...(options.multiLayer ? { multiLayer: { strategy: options.multiLayer } } : {}),
      mode: options.mode,
      positions: options.positions,
      maxNewTokens: options.maxNewTokens,
      ...(options.questions ? { questionLimit: options.questions } : {}),
      batchSize: options.batchSize,
      relevanceCap: options.relevance,
      onProgress: (event) => {
        switch (event.type) {
          case 'phase':
            log(event.message);
            break;
          case 'generation':
            generationBar?.setTotal(event.rowsTotal);
            generationBar?.update(event.rowsDone);
            break;
          case 'judging':
            judgingBar?.setTotal(event.total);
            judgingBar?.update(event.done);
            break;
          case 'run': {
            const { run, cached } = event;
            const where =
              run.interventions
                .map((intervention) => `L${intervention.layer} c=${intervention.coefficient.toPrecision(4)}`)
                .join(' + ') || 'baseline';
            log(
              `${where}: trait ${run.traitMean?.toFixed(1) ?? '-'}, coherence ${run.coherenceMean?.toFixed(1) ?? '-'}${cached ? ' (from results.json)' : ''}`,
            );
            break;
          }
        }
      },
    });
    bars?.stop();
    process.stdout.write(`${steering.formatSteeringSummary(evaluation.results, evaluation.searches)}\n`);
    process.stderr.write(
      `results: ${evaluation.resultsPath} (${evaluation.judgeCalls} judge calls this run)\n`,
    );
  } finally {
    bars?.stop();
    await created.dispose();
    await model.dispose();
  }
}
