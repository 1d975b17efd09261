import { type SteeringMode, type SteeringPositions, steeringModes, steeringPositions } from '@traitlens/core';
import { type Command, Option } from 'commander';
import { choiceOption, integerOption, numberListOption, numberOption } from '../parse-option-values';
import type { ProgressDisplay, ProgressTask } from '../progress-display';
import { addShardOption, resolveCliShard } from '../shard-option';
import {
  addJudgeOptions,
  addModelOptions,
  batchSizeOption,
  datasetsOption,
  describeJudgeKeyProblem,
  describeLoraScaleProblem,
  experimentOption,
  type JudgeCommandOptions,
  layersOption,
  type ModelCommandOptions,
  maxNewTokensOption,
  toLoadModelOptions,
  toOpenAiJudgeSettings,
} from '../shared-options';

interface SteerCommandOptions extends ModelCommandOptions, JudgeCommandOptions {
  judge: string;
  trait: string;
  datasets: string;
  vectors?: string;
  method: string;
  layers?: string;
  steps: number;
  direction: 'positive' | 'negative';
  coefficients?: number[];
  upMultiplier: number;
  downMultiplier: number;
  momentum: number;
  coherenceThreshold: number;
  multiLayer?: 'weighted' | 'orthogonal';
  mode: SteeringMode;
  positions: SteeringPositions;
  experiment: string;
  maxNewTokens: number;
  questions?: number;
  batchSize: number;
  relevanceCap: boolean;
  /** Deprecated spelling: --no-relevance. */
  relevance: boolean;
  shard?: string;
}

export function registerSteerCommand(program: Command): void {
  const command = program
    .command('steer')
    .description(
      'Validate a trait vector causally (docs/steering.md): steer the model with it, have a judge score trait and coherence, and search the coefficient per layer. Resumable: re-running skips finished steps.',
    );
  addModelOptions(command, {
    modelDescription: 'the model to steer: local folder or hf:org/name[@revision]',
  });
  command
    .requiredOption(
      '--trait <category/trait>',
      'trait under --datasets (its definition.txt and steering.json), e.g. alignment/sycophancy; a folder path also works',
    )
    .addOption(datasetsOption())
    .option(
      '--vectors <file>',
      'trait vector file (default: <experiment>/extraction/<category>/<trait>/vectors/<method>.safetensors)',
    )
    .option(
      '--method <id|best>',
      'extraction method whose vectors to use when --vectors is not given; best = the method extract ranked best',
      'mean_diff',
    )
    .addOption(layersOption('layers to steer: all, 0,3,5 or 2-4 (default: every layer in the vector file)'));
  addJudgeOptions(command, { defaultJudge: 'openai:gpt-4.1-mini' });
  command
    .addOption(
      new Option('--steps <n>', 'adaptive search steps per layer')
        .argParser(integerOption({ min: 1 }))
        .default(6),
    )
    .addOption(
      new Option('--direction <direction>', 'positive (raise the trait) or negative (lower it)')
        .argParser(choiceOption(['positive', 'negative'] as const))
        .default('positive'),
    )
    .addOption(
      new Option(
        '--coefficients <list>',
        'a manual grid of coefficients instead of the adaptive search, e.g. 2,4,8',
      ).argParser(numberListOption()),
    )
    .addOption(
      new Option('--up-multiplier <x>', 'coefficient multiplier after a coherent step')
        .argParser(numberOption({ min: 0, exclusiveMin: true }))
        .default(1.3),
    )
    .addOption(
      new Option('--down-multiplier <x>', 'coefficient multiplier after an incoherent step')
        .argParser(numberOption({ min: 0, exclusiveMin: true }))
        .default(0.85),
    )
    .addOption(
      new Option('--momentum <m>', 'momentum of the multiplier (0 = off)')
        .argParser(numberOption({ min: 0, max: 1, exclusiveMax: true }))
        .default(0),
    )
    .addOption(
      new Option('--coherence-threshold <t>', 'mean coherence (0-100) that counts as coherent')
        .argParser(numberOption({ min: 0, max: 100 }))
        .default(70),
    )
    .addOption(
      new Option(
        '--multi-layer <strategy>',
        'then combine the best layers: weighted or orthogonal',
      ).argParser(choiceOption(['weighted', 'orthogonal'] as const)),
    )
    .addOption(
      new Option('--mode <mode>', 'add (h + c v) or ablate (h - c (h.u) u)')
        .argParser(choiceOption(steeringModes))
        .default('add'),
    )
    .addOption(
      new Option('--positions <positions>', 'steer all tokens, the prompt only, or the response only')
        .argParser(choiceOption(steeringPositions))
        .default('all'),
    )
    .addOption(experimentOption('experiment folder; results go to <dir>/steering/<trait>/'))
    .addOption(maxNewTokensOption())
    .addOption(
      new Option('--questions <n>', 'use only the first n steering questions').argParser(
        integerOption({ min: 1 }),
      ),
    )
    .addOption(batchSizeOption(32, 'rows per batched generate call'))
    .option(
      '--no-relevance-cap',
      'skip the relevance check (off-topic answers otherwise get coherence capped at 50)',
    )
    .addOption(new Option('--no-relevance', 'deprecated: --no-relevance-cap').hideHelp());
  addShardOption(command).action(async (options: SteerCommandOptions) => {
    await runSteerCommand(options);
  });
}

type SteeringModule = typeof import('@traitlens/steering');
type SteeringProgressEvent = Parameters<
  NonNullable<Parameters<SteeringModule['evaluateSteering']>[0]['onProgress']>
>[0];

/** What the cheap checks found: the trait, its vectors and the layers to steer (nothing loaded yet). */
interface CheckedSteerInputs {
  trait: Awaited<ReturnType<SteeringModule['loadSteeringTrait']>>;
  vectorsFile: string;
  selected: ReturnType<typeof selectSteeringLayers>;
  shard: Awaited<ReturnType<typeof resolveCliShard>>;
}

/**
 * Everything cheap first: a missing key, a bad layer or a vector file of another model must not cost a
 * model load (minutes for a 70B model) before failing. Undefined when no layer falls into the shard.
 */
async function checkSteerInputs(options: SteerCommandOptions): Promise<CheckedSteerInputs | undefined> {
  const [core, steering, { readModelShape }, { resolveTraitFolder }, { resolveSteeringVectors }] =
    await Promise.all([
      import('@traitlens/core'),
      import('@traitlens/steering'),
      import('../read-model-shape'),
      import('../resolve-trait-folder'),
      import('../resolve-steering-vectors'),
    ]);
  const cheapProblem = describeLoraScaleProblem(options) ?? describeJudgeKeyProblem(options);
  if (cheapProblem) throw new core.TraitlensError('INVALID_ARGUMENT', cheapProblem);
  const traitFolder = await resolveTraitFolder(options.trait, options.datasets);
  const trait = await steering.loadSteeringTrait(traitFolder.folder);
  const vectorsFile =
    options.vectors ??
    (await resolveSteeringVectors({
      experiment: options.experiment,
      category: traitFolder.category,
      trait: traitFolder.name,
      method: options.method,
    }));
  const vectors = await core.readTraitVectors(vectorsFile);
  const shape = await readModelShape(options.model);
  const selected = selectSteeringLayers({ vectors, vectorsFile, shape, layerText: options.layers, core });
  (await import('@traitlens/steering/internal')).parseJudgeSpec(options.judge);
  // Layers (by a hash of <trait>/L<layer>) are the units of a shard; the baseline is shared.
  const shard = await resolveCliShard(options.shard);
  const steered = selected.layers ?? [...selected.vectors.vectors.keys()];
  if (shard && !steered.some((layer) => core.isUnitInShard(`${trait.name}/L${layer}`, shard))) {
    // Nothing of this trait falls into the shard: no model load (minutes for a 70B model).
    process.stderr.write(`no layer of ${trait.name} (${steered.join(', ')}) falls into this shard\n`);
    return undefined;
  }
  return { trait, vectorsFile, selected, shard };
}

/** Shows steering's events: a task for generation and one for judging per phase, a line per run. */
function createSteerProgressHandler(display: ProgressDisplay): (event: SteeringProgressEvent) => void {
  let generation: ProgressTask | undefined;
  let judging: ProgressTask | undefined;
  return (event) => {
    switch (event.type) {
      case 'phase':
        generation?.finish();
        judging?.finish();
        generation = undefined;
        judging = undefined;
        display.log(event.message);
        break;
      case 'generation':
        generation ??= display.task('generate', { total: event.rowsTotal, unit: 'rows' });
        generation.update(event.rowsDone, event.rowsTotal);
        break;
      case 'judging':
        judging ??= display.task('judge', { total: event.total, unit: 'answers' });
        judging.update(event.done, event.total);
        break;
      case 'run': {
        const { run, cached } = event;
        const where =
          run.interventions
            .map((intervention) => `L${intervention.layer} c=${intervention.coefficient.toPrecision(4)}`)
            .join(' + ') || 'baseline';
        display.log(
          `${where}: trait ${run.traitMean?.toFixed(1) ?? '-'}, coherence ${run.coherenceMean?.toFixed(1) ?? '-'}${cached ? ' (from results.json)' : ''}`,
        );
        break;
      }
    }
  };
}

/** The summary table on stdout, the results file and any unscored judgements on stderr. */
function printSteerSummary(
  steering: SteeringModule,
  evaluation: Awaited<ReturnType<SteeringModule['evaluateSteering']>>,
): void {
  process.stdout.write(`${steering.formatSteeringSummary(evaluation.results, evaluation.searches)}\n`);
  process.stderr.write(
    `results: ${evaluation.resultsPath} (${evaluation.judgeCalls} judge calls this run)\n`,
  );
  if (evaluation.unscoredJudgements > 0)
    process.stderr.write(
      `warning: the judge returned no usable score for ${evaluation.unscoredJudgements} of ${evaluation.judgeCalls} judgements this run; those responses are left out of the means (each run's traitScored / coherenceScored in results.json says how many counted).\n`,
    );
}

async function runSteerCommand(options: SteerCommandOptions): Promise<void> {
  const checked = await checkSteerInputs(options);
  if (!checked) return;
  const { trait, vectorsFile, selected, shard } = checked;
  const [core, steering, { loadModelForCli }, { createProgressDisplay }, { join }] = await Promise.all([
    import('@traitlens/core'),
    import('@traitlens/steering'),
    import('../load-model-for-cli'),
    import('../progress-display'),
    import('node:path'),
  ]);
  const display = createProgressDisplay();
  display.log(`loading ${options.model}`);
  const model = await loadModelForCli(options, { display });
  const layout = core.experimentLayout(options.experiment);
  let created: Awaited<ReturnType<typeof steering.createJudge>> | undefined;
  try {
    created = await steering.createJudge(options.judge, {
      evalPrompt: trait.evalPrompt,
      cacheDirectory: join(options.experiment, '.traitlens-cache', 'judge'),
      openai: toOpenAiJudgeSettings(options),
      // The judge model runs as released: no adapter.
      loadModelOptions: toLoadModelOptions(options, { withLora: false }),
    });
    const evaluation = await steering.evaluateSteering({
      model,
      judge: created.judge,
      trait,
      vectors: selected.vectors,
      vectorsFile,
      outputDirectory: layout.steering(trait.name).root,
      ...(selected.layers ? { layers: selected.layers } : {}),
      ...(shard ? { shard } : {}),
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
      relevanceCap: options.relevanceCap && options.relevance,
      onProgress: createSteerProgressHandler(display),
    });
    display.stop();
    printSteerSummary(steering, evaluation);
  } finally {
    display.stop();
    await created?.dispose();
    await model.dispose();
  }
}

/**
 * The layers to steer, checked against the model's config before it loads. A vector file may hold
 * more layers than the model (vectors of a deeper sibling model are still refused by hidden size):
 * then the requested layers must exist in both, and only they are passed on.
 */
export function selectSteeringLayers(options: {
  vectors: import('@traitlens/core').TraitVectorSet;
  vectorsFile: string;
  shape: { layerCount: number; hiddenSize: number };
  /** `--layers` as given; undefined: every layer of the vector file. */
  layerText: string | undefined;
  core: Pick<typeof import('@traitlens/core'), 'parseLayerSelection' | 'TraitlensError'>;
}): { vectors: import('@traitlens/core').TraitVectorSet; layers: number[] | undefined } {
  const { vectors, vectorsFile, shape, layerText, core } = options;
  if (vectors.metadata.hiddenSize !== shape.hiddenSize)
    throw new core.TraitlensError(
      'MODEL_MISMATCH',
      `${vectorsFile} has vectors of width ${vectors.metadata.hiddenSize} (extracted from ${vectors.metadata.model}) but the model has hidden size ${shape.hiddenSize}. Use vectors extracted from a model of the same family and size.`,
      { details: { expected: shape.hiddenSize, actual: vectors.metadata.hiddenSize } },
    );
  const available = [...vectors.vectors.keys()].sort((a, b) => a - b);
  const beyond = available.filter((layer) => layer >= shape.layerCount);
  if (layerText === undefined) {
    if (beyond.length > 0)
      throw new core.TraitlensError(
        'MODEL_MISMATCH',
        `${vectorsFile} has vectors for layers ${available[0]}-${available[available.length - 1]} but the model has ${shape.layerCount} layers (0-${shape.layerCount - 1}); choose the layers to steer with --layers, e.g. --layers ${Math.floor(shape.layerCount / 3)}-${Math.floor((2 * shape.layerCount) / 3)}.`,
        { details: { layerCount: shape.layerCount, available } },
      );
    return { vectors, layers: undefined };
  }
  const layers = core.parseLayerSelection(layerText, shape.layerCount);
  const missing = layers.filter((layer) => !vectors.vectors.has(layer));
  if (missing.length > 0)
    throw new core.TraitlensError(
      'INVALID_ARGUMENT',
      `--layers ${layerText}: ${vectorsFile} has no vector for layer${missing.length === 1 ? '' : 's'} ${missing.join(', ')}; it has layers ${available.join(', ')}.`,
      { details: { missing, available } },
    );
  // Every layer the model has, not only the chosen ones: the vectors' hash is part of the results'
  // context, so runs with different --layers (or shards) share one results folder.
  const fitting = available.filter((layer) => layer < shape.layerCount);
  return {
    vectors:
      beyond.length === 0
        ? vectors
        : { ...vectors, vectors: new Map(fitting.map((layer) => [layer, vectors.vectors.get(layer)!])) },
    layers,
  };
}
