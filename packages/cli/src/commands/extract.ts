import { type Command, InvalidArgumentError } from 'commander';
import { parseInteger, parseList, parseNumber } from '../parse-option-values';

interface ExtractCommandOptions {
  model: string;
  traits: string[];
  methods?: string[];
  layers: string;
  sites: string[];
  position: string;
  experiment: string;
  datasets: string;
  maxNewTokens: number;
  temperature: number;
  rollouts: number;
  batchSize: number;
  promptFormat: 'auto' | 'raw' | 'chat';
  validationFraction: number;
  judge?: string;
  judgeBaseUrl?: string;
  vetScenarios?: boolean;
  vetResponses?: boolean;
  gguf?: boolean;
  force?: boolean;
  dtype: 'fp32' | 'fp16' | 'int8' | 'int4';
  threads?: number;
}

function parsePromptFormat(value: string): ExtractCommandOptions['promptFormat'] {
  if (value !== 'auto' && value !== 'raw' && value !== 'chat')
    throw new InvalidArgumentError(`"${value}" is not one of auto, raw, chat.`);
  return value;
}

function parseDtype(value: string): ExtractCommandOptions['dtype'] {
  if (value !== 'fp32' && value !== 'fp16' && value !== 'int8' && value !== 'int4')
    throw new InvalidArgumentError(`"${value}" is not one of fp32, fp16, int8, int4.`);
  return value;
}

export function registerExtractCommand(program: Command): void {
  program
    .command('extract')
    .description(
      'Extract trait vectors (STUDY.md section 3): generate completions of each trait data set, read window-averaged activations, fit every method at every layer and evaluate on held-out prompts. Resumable: re-running skips finished stages.',
    )
    .requiredOption(
      '--model <source>',
      'local model folder or hf:org/name[@revision] (the study: a base model)',
    )
    .requiredOption(
      '--traits <list>',
      'comma-separated <category>/<trait>, e.g. alignment/sycophancy,alignment/deception',
      parseList,
    )
    .option(
      '--methods <list>',
      'extraction methods (default: mean_diff,probe,gradient,pca_diff,random_baseline)',
      parseList,
    )
    .option('--layers <layers>', 'all, a list 0,3,5 or a range 2-4', 'all')
    .option('--sites <sites>', 'hook sites to read (resid_post = block output)', parseList, ['resid_post'])
    .option(
      '--position <window>',
      'token window averaged per sample: response[:5], response[:], prompt[-1], prompt[:]',
      'response[:5]',
    )
    .option(
      '--experiment <dir>',
      'experiment folder; outputs go to <dir>/extraction/<category>/<trait>/',
      'experiments/default',
    )
    .option('--datasets <root>', 'folder holding <category>/<trait> data sets', 'datasets/traits')
    .option(
      '--max-new-tokens <n>',
      'tokens generated per completion (study: 16 on a base model)',
      parseInteger,
      16,
    )
    .option('--temperature <t>', 'sampling temperature (0 = greedy, the study)', parseNumber, 0)
    .option('--rollouts <n>', 'completions per prompt', parseInteger, 1)
    .option('--batch-size <n>', 'prompts per generate / forward call', parseInteger, 8)
    .option(
      '--prompt-format <format>',
      'raw (base model), chat (chat template) or auto',
      parsePromptFormat,
      'auto',
    )
    .option(
      '--validation-fraction <f>',
      'share of each class (the last prompts) held out for evaluation',
      parseNumber,
      0.2,
    )
    .option('--judge <judge>', 'judge for vetting: openai:<model>, local:<model source> or lexicon')
    .option(
      '--judge-base-url <url>',
      'OpenAI-compatible /v1 base URL (default: OPENAI_BASE_URL); key from OPENAI_API_KEY',
    )
    .option('--vet-scenarios', 'drop prompts the judge does not expect to elicit the trait (needs --judge)')
    .option('--vet-responses', 'drop completions scoring < 60 (positive) or > 40 (negative) (needs --judge)')
    .option('--gguf', 'also export llama.cpp GGUF control vectors')
    .option('--force', 'redo every stage even when its outputs exist')
    .option('--dtype <dtype>', 'model weights: fp32, fp16, int8 or int4', parseDtype, 'fp32')
    .option('--threads <n>', 'CPU threads', parseInteger)
    .action(async (options: ExtractCommandOptions) => {
      await runExtractCommand(options);
    });
}

async function runExtractCommand(options: ExtractCommandOptions): Promise<void> {
  const [core, extraction, { loadModel }, { default: cliProgress }, { join, relative }] = await Promise.all([
    import('@traitlens/core'),
    import('@traitlens/extraction'),
    import('@traitlens/model-runtime'),
    import('cli-progress'),
    import('node:path'),
  ]);
  if ((options.vetScenarios || options.vetResponses) && !options.judge) {
    throw new core.TraitlensError(
      'INVALID_ARGUMENT',
      '--vet-scenarios and --vet-responses need a judge: add --judge openai:<model>, local:<model source> or lexicon.',
    );
  }
  for (const site of options.sites) {
    if (!core.isHookSite(site))
      throw new core.TraitlensError(
        'INVALID_ARGUMENT',
        `--sites: "${site}" is not a hook site; use ${core.hookSites.join(', ')}.`,
      );
  }
  extraction.parseTokenWindow(options.position);
  if (options.methods) extraction.resolveExtractionMethods(options.methods);
  // Load every data set first, so a typo in the last trait fails before hours of generation.
  const datasets = [];
  for (const trait of options.traits) {
    if (!/^[^/]+\/[^/]+$/.test(trait)) {
      throw new core.TraitlensError(
        'INVALID_ARGUMENT',
        `--traits: "${trait}" is not <category>/<trait> (e.g. alignment/sycophancy).`,
      );
    }
    datasets.push(
      await extraction.loadTraitDataset(join(options.datasets, trait), {
        requireRubric: Boolean(options.judge),
      }),
    );
  }

  const bars = process.stderr.isTTY
    ? new cliProgress.MultiBar(
        {
          stream: process.stderr,
          clearOnComplete: false,
          hideCursor: true,
          format: '{label} |{bar}| {value}/{total} {note}',
          autopadding: true,
        },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  const log = (line: string) => (bars ? bars.log(`${line}\n`) : process.stderr.write(`${line}\n`));
  const loadOptions = { dtype: options.dtype, ...(options.threads ? { threads: options.threads } : {}) };
  log(`loading ${options.model}`);
  const model = await loadModel(options.model, loadOptions);
  const judges: { dispose(): Promise<void> }[] = [];
  try {
    const layers = core.parseLayerSelection(options.layers, model.config.layerCount);
    let judge: import('@traitlens/core').Judge | undefined;
    if (options.judge) {
      const steering = await import('@traitlens/steering');
      const created = await steering.createJudge(options.judge, {
        cacheDirectory: join(options.experiment, '.traitlens-cache', 'judge'),
        ...(options.judgeBaseUrl ? { openai: { baseUrl: options.judgeBaseUrl } } : {}),
        loadModelOptions: loadOptions,
      });
      judges.push(created);
      judge = created.judge;
    }
    for (const dataset of datasets) {
      const stageBars = new Map<string, import('cli-progress').SingleBar>();
      const result = await extraction.runTraitExtraction({
        model,
        dataset,
        experimentDirectory: options.experiment,
        layers,
        sites: options.sites as import('@traitlens/core').HookSite[],
        tokenWindow: options.position,
        ...(options.methods ? { methods: options.methods } : {}),
        generation: {
          maxNewTokens: options.maxNewTokens,
          temperature: options.temperature,
          rollouts: options.rollouts,
          batchSize: options.batchSize,
          promptFormat: options.promptFormat,
        },
        validationFraction: options.validationFraction,
        ...(judge && options.vetScenarios ? { scenarioJudge: judge } : {}),
        ...(judge && options.vetResponses ? { responseJudge: judge } : {}),
        ...(options.gguf ? { exportGguf: true } : {}),
        ...(options.force ? { force: true } : {}),
        onProgress: (event) => {
          if (!bars) return;
          let bar = stageBars.get(event.stage);
          if (!bar) {
            bar = bars.create(event.total, 0, {
              label: `${dataset.name} ${event.stage}`.padEnd(40),
              note: '',
            });
            stageBars.set(event.stage, bar);
          }
          bar.setTotal(event.total);
          bar.update(event.completed, { note: event.skipped ? '(done earlier)' : '' });
        },
        onWarning: (message) => log(`warning: ${message}`),
      });
      const site = result.evaluation.sites[options.sites[0]!];
      const best = site?.best;
      log(
        `${result.trait}: ${best ? `best ${best.method} at layer ${best.layer} (validation accuracy ${(best.validationAccuracy * 100).toFixed(1)}%, AUROC ${best.auroc?.toFixed(3) ?? '-'}, d ${best.cohensD?.toFixed(2) ?? '-'})` : 'no usable vector'}; ${relative(process.cwd(), result.evaluationFile)}`,
      );
      process.stdout.write(`${formatLayerTable(result.evaluation, options.sites[0]!)}\n`);
    }
    if (datasets.length > 1) {
      const summary = await extraction.summarizeExtraction(options.experiment);
      log(
        `cross-trait cosines of the best vectors: ${relative(process.cwd(), join(options.experiment, 'extraction', 'summary.json'))} (${Object.keys(summary.traits).length} traits)`,
      );
    }
  } finally {
    bars?.stop();
    for (const created of judges) await created.dispose();
    await model.dispose();
  }
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
