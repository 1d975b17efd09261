import { basename, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseLayerSelection, TraitlensError } from '@traitlens/core';
import { loadModel } from '@traitlens/model-runtime';
import { formatPredictivityReport } from './format-predictivity-report';
import { runPredictivityStudy } from './run-predictivity-study';

/** The study's data folder beside the repository: <repo>/../shared/data. */
const defaultDataDirectory = resolve(import.meta.dirname, '..', '..', '..', '..', 'shared', 'data');

const usage = `Usage: pnpm run run --model <source> [options]

Do CAA steering vectors predict sycophancy? (docs/study-method.md §7)

  --model <source>          local Hugging Face folder or hf:org/name[@revision] (instruct models: chat prompts)
  --data <dir>              data folder with anthropic_sycophancy_ab/ and truthfulqa/ (default ${defaultDataDirectory})
  --out <dir>               where predictivity.json and vectors/ go (default experiments/<model name>)
  --prompt-format <f>       auto (default: chat when the model has a template), chat or raw
  --layers <sel>            all (default), 0,3,5 or 2-4
  --train-limit <n>         items of generate_dataset.json for the vectors (default 400)
  --test-limit <n>          items of test_dataset.json (default all 120)
  --ood-limit <n>           items of TruthfulQA (default 200)
  --ablation-layers <sel>   layers ablated one at a time and together (default: the studied layers)
  --batch-size <n>          rows per forward pass (default 8)
  --bootstrap <n>           bootstrap resamples of the AUROC interval (default 1000)
  --seed <n>                sampling and bootstrap seed (default 0)
  --dtype <d>               fp32 (default), fp16, int8, int4
  --compute-dtype <d>       fp32 (default) or fp16 for int8/int4 weights
  --providers <list>        e.g. cuda,cpu (default cpu)
  --threads <n>             CPU threads`;

function parseInteger(value: string | undefined, option: string): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!Number.isInteger(number) || number < 0)
    throw new TraitlensError('INVALID_ARGUMENT', `${option}: "${value}" is not a whole number >= 0.`);
  return number;
}

function parseChoice<T extends string>(
  value: string | undefined,
  choices: readonly T[],
  option: string,
): T | undefined {
  if (value === undefined) return undefined;
  if (!(choices as readonly string[]).includes(value))
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      `${option}: "${value}" is not one of ${choices.join(', ')}.`,
    );
  return value as T;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string' },
      data: { type: 'string' },
      out: { type: 'string' },
      'prompt-format': { type: 'string' },
      layers: { type: 'string' },
      'train-limit': { type: 'string' },
      'test-limit': { type: 'string' },
      'ood-limit': { type: 'string' },
      'ablation-layers': { type: 'string' },
      'batch-size': { type: 'string' },
      bootstrap: { type: 'string' },
      seed: { type: 'string' },
      dtype: { type: 'string' },
      'compute-dtype': { type: 'string' },
      providers: { type: 'string' },
      threads: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help || !values.model) {
    process.stdout.write(`${usage}\n`);
    return values.help ? 0 : 2;
  }
  const dtype = parseChoice(values.dtype, ['fp32', 'fp16', 'int8', 'int4'] as const, '--dtype');
  const computeDtype = parseChoice(values['compute-dtype'], ['fp32', 'fp16'] as const, '--compute-dtype');
  const providers = values.providers
    ?.split(',')
    .map((name) => parseChoice(name.trim(), ['cpu', 'cuda', 'webgpu'] as const, '--providers')!);
  const threads = parseInteger(values.threads, '--threads');
  const model = await loadModel(values.model, {
    ...(dtype ? { dtype } : {}),
    ...(computeDtype ? { computeDtype } : {}),
    ...(providers ? { providers } : {}),
    ...(threads ? { threads } : {}),
  });
  try {
    const layerCount = model.config.layerCount;
    const layers = values.layers ? parseLayerSelection(values.layers, layerCount) : undefined;
    const ablationLayers = values['ablation-layers']
      ? parseLayerSelection(values['ablation-layers'], layerCount)
      : undefined;
    const trainLimit = parseInteger(values['train-limit'], '--train-limit');
    const testLimit = parseInteger(values['test-limit'], '--test-limit');
    const oodLimit = parseInteger(values['ood-limit'], '--ood-limit');
    const batchSize = parseInteger(values['batch-size'], '--batch-size');
    const bootstrapResamples = parseInteger(values.bootstrap, '--bootstrap');
    const seed = parseInteger(values.seed, '--seed');
    const promptFormat = parseChoice(
      values['prompt-format'],
      ['auto', 'chat', 'raw'] as const,
      '--prompt-format',
    );
    const name = basename(values.model.replace(/^hf:/, '').replace(/@.*$/, '').replace(/\/hf$/, '')).replace(
      /[^\w.-]/g,
      '_',
    );
    const outputDirectory = resolve(values.out ?? `experiments/${name}`);
    const result = await runPredictivityStudy({
      model,
      dataDirectory: resolve(values.data ?? defaultDataDirectory),
      outputDirectory,
      ...(promptFormat ? { promptFormat } : {}),
      ...(layers ? { layers } : {}),
      ...(ablationLayers ? { ablationLayers } : {}),
      ...(trainLimit !== undefined ? { trainLimit } : {}),
      ...(testLimit !== undefined ? { testLimit } : {}),
      ...(oodLimit !== undefined ? { oodLimit } : {}),
      ...(batchSize ? { batchSize } : {}),
      ...(bootstrapResamples !== undefined ? { bootstrapResamples } : {}),
      ...(seed !== undefined ? { seed } : {}),
      log: (line) => process.stderr.write(`${line}\n`),
    });
    process.stdout.write(`${formatPredictivityReport(result)}\nwrote ${outputDirectory}/predictivity.json\n`);
  } finally {
    await model.dispose();
  }
  return 0;
}

try {
  process.exitCode = await main();
} catch (error) {
  if (TraitlensError.isInstance(error)) {
    process.stderr.write(`error [${error.code}]: ${error.message}\n`);
    process.exitCode = 1;
  } else throw error;
}
