import { join, relative } from 'node:path';
import type { HookSite, Judge } from '@traitlens/core';
import type { TraitDataset } from '@traitlens/extraction';
import type { LanguageModel } from '@traitlens/model-runtime';
import { type Command, Option } from 'commander';
import { collectValues, integerOption, numberOption, parseList } from '../parse-option-values';
import type { ProgressDisplay, ProgressTask } from '../progress-display';
import { addShardOption, resolveCliShard } from '../shard-option';
import {
  addJudgeOptions,
  addModelOptions,
  addPromptFormatOptions,
  batchSizeOption,
  datasetsOption,
  describeJudgeKeyProblem,
  describeLoraScaleProblem,
  experimentOption,
  type JudgeCommandOptions,
  layersOption,
  lockWaitOption,
  type ModelCommandOptions,
  maxNewTokensOption,
  type PromptFormatCommandOptions,
  resolvePromptFormat,
  sitesOption,
  temperatureOption,
  toLoadModelOptions,
  toLockWaitMs,
  toOpenAiJudgeSettings,
} from '../shared-options';

interface ExtractCommandOptions extends ModelCommandOptions, PromptFormatCommandOptions, JudgeCommandOptions {
  traits?: string[];
  /** Deprecated singular spelling, repeatable. */
  trait?: string[];
  methods?: string[];
  layers: string;
  sites: string[];
  tokenWindow: string;
  /** Deprecated spelling of --token-window. */
  position?: string;
  experiment: string;
  datasets: string;
  maxNewTokens: number;
  temperature: number;
  rollouts: number;
  batchSize: number;
  validationFraction: number;
  vetScenarios?: boolean;
  vetResponses?: boolean;
  gguf?: boolean;
  force?: boolean;
  lockWait: number;
  shard?: string;
}

/** Completion length for extraction: a short window after the prompt, not an answer (hence its own default). */
export const extractionTokensDefault = 16;

export function registerExtractCommand(program: Command): void {
  const command = program
    .command('extract')
    .description(
      'Extract trait vectors (docs/extraction.md): generate completions of each trait data set, read window-averaged activations, fit every method at every layer and evaluate on held-out prompts. Resumable: re-running skips finished stages.',
    );
  addModelOptions(command, {
    modelDescription: 'local model folder or hf:org/name[@revision] (often a base model)',
  });
  command
    .option(
      '--traits <list>',
      'comma-separated <category>/<trait> under --datasets, e.g. alignment/sycophancy,alignment/deception',
      parseList,
    )
    .addOption(
      new Option('--trait <category/trait>', 'one trait (repeatable; same as --traits)').argParser(
        collectValues,
      ),
    )
    .addOption(datasetsOption())
    .option(
      '--methods <list>',
      'extraction methods (default: mean_diff,probe,gradient,pca_diff,random_baseline)',
      parseList,
    )
    .addOption(layersOption(undefined, 'all'))
    .addOption(sitesOption())
    .option(
      '--token-window <window>',
      'token window averaged per sample: response[:5], response[:], prompt[-1], prompt[:]',
      'response[:5]',
    )
    .addOption(new Option('--position <window>', 'deprecated: --token-window').hideHelp())
    .addOption(experimentOption('experiment folder; outputs go to <dir>/extraction/<category>/<trait>/'))
    .addOption(
      maxNewTokensOption(
        'tokens generated per completion (a short window after the prompt, not a full answer)',
        extractionTokensDefault,
      ),
    )
    .addOption(temperatureOption('sampling temperature (0 = greedy)'))
    .addOption(
      new Option('--rollouts <n>', 'completions per prompt').argParser(integerOption({ min: 1 })).default(1),
    )
    .addOption(batchSizeOption(8, 'prompts per generate / forward call'))
    .addOption(
      new Option(
        '--validation-fraction <f>',
        'share of each class (the last prompts) held out for evaluation',
      )
        .argParser(numberOption({ min: 0, max: 1, exclusiveMin: true, exclusiveMax: true }))
        .default(0.2),
    );
  addPromptFormatOptions(command, { systemPrompt: false });
  addJudgeOptions(command, {
    judgeDescription: 'judge for vetting: openai:<model>, local:<model source> or lexicon',
  });
  command
    .option('--vet-scenarios', 'drop prompts the judge does not expect to elicit the trait (needs --judge)')
    .option('--vet-responses', 'drop completions scoring < 60 (positive) or > 40 (negative) (needs --judge)')
    .option('--gguf', 'also export llama.cpp GGUF control vectors')
    .option('--force', 'redo every stage even when its outputs exist')
    .addOption(lockWaitOption());
  addShardOption(command).action(async (options: ExtractCommandOptions) => {
    await runExtractCommand(options);
  });
}

async function runExtractCommand(options: ExtractCommandOptions): Promise<void> {
  const [core, { loadModelForCli }, { createProgressDisplay }, { readModelShape }] = await Promise.all([
    import('@traitlens/core'),
    import('../load-model-for-cli'),
    import('../progress-display'),
    import('../read-model-shape'),
  ]);
  const { datasets, promptFormat } = await loadExtractDatasets(options);
  // Traits are the units of a shard; the last shard to finish writes extraction/summary.json.
  const shard = await resolveCliShard(options.shard);
  const allTraits = datasets.map((dataset) => `${dataset.category}/${dataset.trait}`);
  const ownDatasets = datasets.filter((dataset) =>
    core.isUnitInShard(`${dataset.category}/${dataset.trait}`, shard),
  );
  if (ownDatasets.length === 0) {
    process.stderr.write(`no trait of ${allTraits.join(', ')} falls into this shard\n`);
    await summarizeIfComplete(options.experiment, allTraits, (line) => process.stderr.write(`${line}\n`));
    return;
  }
  // The layers against the model's config.json, before minutes of loading a large model.
  core.parseLayerSelection(options.layers, (await readModelShape(options.model)).layerCount);
  const display = createProgressDisplay();
  display.log(`loading ${options.model}`);
  const model = await loadModelForCli(options, { display });
  let created: CreatedJudge | undefined;
  try {
    const layers = core.parseLayerSelection(options.layers, model.config.layerCount);
    created = await createExtractJudge(options);
    for (const dataset of ownDatasets)
      await extractTrait({ options, model, dataset, layers, judge: created?.judge, promptFormat, display });
    await summarizeIfComplete(options.experiment, allTraits, (line) => display.log(line));
  } finally {
    display.stop();
    await created?.dispose();
    await model.dispose();
  }
}

type CreatedJudge = Awaited<ReturnType<typeof import('@traitlens/steering').createJudge>>;

/**
 * Checks the options and loads every data set first, so a typo in the last trait fails before hours of
 * generation.
 */
async function loadExtractDatasets(options: ExtractCommandOptions): Promise<{
  datasets: TraitDataset[];
  promptFormat: ReturnType<typeof resolvePromptFormat>['promptFormat'];
}> {
  const [{ TraitlensError }, extraction, { parseTokenWindow }] = await Promise.all([
    import('@traitlens/core'),
    import('@traitlens/extraction'),
    import('@traitlens/extraction/internal'),
  ]);
  const invalid = (message: string) => new TraitlensError('INVALID_ARGUMENT', message);
  const traits = [...(options.traits ?? []), ...(options.trait ?? [])];
  if (traits.length === 0)
    throw invalid(
      'Name the traits to extract: --traits <category>/<trait>[,...], e.g. --traits alignment/sycophancy.',
    );
  if ((options.vetScenarios || options.vetResponses) && !options.judge) {
    throw invalid(
      '--vet-scenarios and --vet-responses need a judge: add --judge openai:<model>, local:<model source> or lexicon.',
    );
  }
  const cheapProblem = describeLoraScaleProblem(options) ?? describeJudgeKeyProblem(options);
  if (cheapProblem) throw invalid(cheapProblem);
  const { promptFormat } = resolvePromptFormat(options);
  parseTokenWindow(options.position ?? options.tokenWindow);
  if (options.methods) extraction.resolveExtractionMethods(options.methods);
  const datasets: TraitDataset[] = [];
  for (const trait of traits) {
    if (!/^[^/]+\/[^/]+$/.test(trait)) {
      throw invalid(`--traits: "${trait}" is not <category>/<trait> (e.g. alignment/sycophancy).`);
    }
    datasets.push(
      await extraction.loadTraitDataset(join(options.datasets, trait), {
        requireRubric: Boolean(options.judge),
      }),
    );
  }
  return { datasets, promptFormat };
}

/** Writes extraction/summary.json once every trait of a multi-trait run is done (by whichever shard finishes last). */
async function summarizeIfComplete(
  experiment: string,
  allTraits: readonly string[],
  log: (line: string) => void,
): Promise<void> {
  if (allTraits.length < 2) return;
  const { summarizeExtractionIfComplete } = await import('@traitlens/extraction');
  const summary = await summarizeExtractionIfComplete(experiment, [...allTraits]);
  log(
    summary
      ? `cross-trait cosines of the best vectors: ${relative(process.cwd(), join(experiment, 'extraction', 'summary.json'))} (${Object.keys(summary.traits).length} traits)`
      : 'extraction/summary.json is written by the shard that finishes the last trait',
  );
}

async function createExtractJudge(options: ExtractCommandOptions): Promise<CreatedJudge | undefined> {
  if (!options.judge) return undefined;
  const steering = await import('@traitlens/steering');
  return steering.createJudge(options.judge, {
    cacheDirectory: join(options.experiment, '.traitlens-cache', 'judge'),
    openai: toOpenAiJudgeSettings(options),
    // The judge model runs as released: no adapter.
    loadModelOptions: toLoadModelOptions(options, { withLora: false }),
  });
}

interface ExtractTraitRun {
  options: ExtractCommandOptions;
  model: LanguageModel;
  dataset: TraitDataset;
  layers: number[];
  judge: Judge | undefined;
  promptFormat: ReturnType<typeof resolvePromptFormat>['promptFormat'];
  display: ProgressDisplay;
}

/** One trait: the pipeline with a progress bar per stage, then its best vector and layer table. */
async function extractTrait(run: ExtractTraitRun): Promise<void> {
  const { options, dataset, judge, display } = run;
  const { runTraitExtraction } = await import('@traitlens/extraction');
  const tasks = new Map<string, ProgressTask>();
  const result = await runTraitExtraction({
    model: run.model,
    dataset,
    experimentDirectory: options.experiment,
    layers: run.layers,
    sites: options.sites as HookSite[],
    tokenWindow: options.position ?? options.tokenWindow,
    methods: options.methods,
    generation: {
      maxNewTokens: options.maxNewTokens,
      temperature: options.temperature,
      rollouts: options.rollouts,
      batchSize: options.batchSize,
      promptFormat: run.promptFormat,
    },
    validationFraction: options.validationFraction,
    scenarioJudge: options.vetScenarios ? judge : undefined,
    responseJudge: options.vetResponses ? judge : undefined,
    exportGguf: options.gguf,
    force: options.force,
    lockWaitMs: toLockWaitMs(options.lockWait),
    onLockWait: (owner) =>
      display.log(
        `waiting up to ${options.lockWait} s (--lock-wait) for ${owner ? `process ${owner.pid} on ${owner.hostname} (${owner.purpose})` : 'another process'} to release ${dataset.name}`,
      ),
    onProgress: (event) => {
      let task = tasks.get(event.stage);
      if (!task) {
        task = display.task(`${dataset.name} ${event.stage}`, {
          total: event.total,
          done: event.skipped ? event.completed : 0,
        });
        tasks.set(event.stage, task);
      }
      task.update(event.completed, event.total, event.skipped ? '(done earlier)' : '');
    },
    onWarning: (message) => display.log(`warning: ${message}`),
  });
  for (const task of tasks.values()) task.finish();
  // The first site is the one reported (resid_post unless --sites says otherwise).
  const [site = 'resid_post'] = options.sites;
  const best = result.evaluation.sites[site]?.best;
  display.log(
    `${result.trait}: ${best ? `best ${best.method} at layer ${best.layer} (validation accuracy ${(best.validationAccuracy * 100).toFixed(1)}%, AUROC ${best.auroc?.toFixed(3) ?? '-'}, d ${best.cohensD?.toFixed(2) ?? '-'})` : 'no usable vector'}; ${relative(process.cwd(), result.evaluationFile)}`,
  );
  process.stdout.write(`${formatLayerTable(result.evaluation, site)}\n`);
}

/** Validation accuracy / AUROC per layer and method, as a plain table for the terminal. */
function formatLayerTable(evaluation: import('@traitlens/extraction').TraitEvaluation, site: string): string {
  const siteEvaluation = evaluation.sites[site];
  if (!siteEvaluation) return '';
  const methods = evaluation.methods;
  const header = ['layer', ...methods.map((method) => `${method} acc/auroc`)];
  const rows = Object.entries(siteEvaluation.layers).map(([layer, value]) => [
    layer,
    ...methods.map((method) => {
      const metrics = value.methods[method]?.validation;
      return metrics ? `${metrics.accuracy.toFixed(2)}/${metrics.auroc?.toFixed(2) ?? '-'}` : '-';
    }),
  ]);
  const widths = header.map((cell, column) =>
    Math.max(cell.length, ...rows.map((row) => row[column]!.length)),
  );
  const format = (row: string[]) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ');
  return [
    `${evaluation.trait} (${site}, ${evaluation.tokenWindow}, validation)`,
    format(header),
    ...rows.map(format),
  ].join('\n');
}
