import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeTraitVectors } from '@traitlens/core';
import { Command, type Option } from 'commander';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runCliCaptured as capture } from './__fixtures__/run-cli-captured';
import { cliVersion } from './main';
import { registerCommands } from './register-commands';
import { modelOptionDefaults, modelOptionKeys, resolvePromptFormat } from './shared-options';

const repositoryRoot = join(import.meta.dirname, '..', '..', '..');
const storiesConfig = join(repositoryRoot, '..', 'shared', 'models', 'stories260k', 'hf', 'config.json');
const datasets = join(repositoryRoot, 'datasets', 'traits');
// Never a real model: if a value slipped past validation the run would fail on this folder instead.
const missingModel = join(tmpdir(), 'traitlens-no-such-model');

describe('every numeric option and enum is validated before any work, naming the option', () => {
  const model = ['--model', missingModel];
  const steer = ['steer', ...model, '--trait', 'a/b', '--vectors', 'v.safetensors'];
  const extract = ['extract', ...model, '--traits', 'a/b'];
  const generate = ['generate', ...model, '--prompt', 'x'];
  const analyze = ['analyze', '--experiment', missingModel, '--variant', 'lora', '--prompt-set', 'p'];
  const capture_ = ['capture', '--experiment', missingModel, '--prompt-set', 'p', ...model, '--variant', 'v'];
  it.each([
    [[...extract, '--batch-size', '0'], '--batch-size', 'at least 1'],
    [[...steer, '--batch-size', '0'], '--batch-size', 'at least 1'],
    [[...generate, '--temperature=-1'], '--temperature', 'at least 0'],
    [[...generate, '--top-p', '5'], '--top-p', 'from 0 (exclusive) to 1'],
    [[...generate, '--top-k=-3'], '--top-k', 'at least 1'],
    [[...generate, '--dtype', 'int3'], '--dtype', 'fp32, fp16, int8, int4'],
    [[...generate, '--compute-dtype', 'bf16'], '--compute-dtype', 'fp32, fp16'],
    [[...generate, '--block-size', '48'], '--block-size', '32, 64, 128'],
    [[...generate, '--providers', 'cuda,tpu'], '--providers', 'cpu, cuda, webgpu'],
    [[...generate, '--max-new-tokens', '0'], '--max-new-tokens', 'at least 1'],
    [[...generate, '--max-new-tokens=-5'], '--max-new-tokens', 'at least 1'],
    [[...generate, '--max-new-tokens', '2.5'], '--max-new-tokens', 'not a whole number'],
    [[...generate, '--threads=-2'], '--threads', 'at least 1'],
    [[...generate, '--device-index', '-1'], '--device-index', 'at least 0'],
    [[...generate, '--lora-scale', 'half'], '--lora-scale', 'not a number'],
    [[...generate, '--prompt-format', 'jinja'], '--prompt-format', 'auto, raw, chat'],
    [['activations', ...model, '--ids', '', '--output', 'x'], '--ids', 'comma-separated token ids'],
    [['activations', ...model, '--ids', '1,-2', '--output', 'x'], '--ids', 'at least 0'],
    [[...steer, '--questions', '0'], '--questions', 'at least 1'],
    [[...steer, '--coherence-threshold', '500'], '--coherence-threshold', 'from 0 to 100'],
    [[...steer, '--judge-concurrency', '0'], '--judge-concurrency', 'at least 1'],
    [[...steer, '--judge-timeout', '0'], '--judge-timeout', '0 (exclusive)'],
    [[...steer, '--judge-attempts', '0'], '--judge-attempts', 'at least 1'],
    [[...steer, '--momentum', '1'], '--momentum', 'to 1 (exclusive)'],
    [[...steer, '--steps', '0'], '--steps', 'at least 1'],
    [[...steer, '--coefficients', '2,x'], '--coefficients', 'not a number'],
    [[...steer, '--layers', '3-x'], '--layers', 'malformed'],
    [[...steer, '--mode', 'remove'], '--mode', 'add, ablate'],
    [[...steer, '--positions', 'answer'], '--positions', 'all, prompt, response'],
    [[...extract, '--rollouts', '0'], '--rollouts', 'at least 1'],
    [[...extract, '--lock-wait=-1'], '--lock-wait', 'from 0 to 86400'],
    [[...capture_, '--lock-wait', 'soon'], '--lock-wait', 'not a number'],
    [[...capture_, '--lock-wait', '100000'], '--lock-wait', 'from 0 to 86400'],
    [
      [...extract, '--validation-fraction', '1.5'],
      '--validation-fraction',
      'from 0 (exclusive) to 1 (exclusive)',
    ],
    [[...extract, '--sites', 'resid_post,residual'], '--sites', 'resid_pre, attn_out'],
    [[...capture_, '--limit', '0'], '--limit', 'at least 1'],
    [[...capture_, '--activation-dtype', 'f64'], '--activation-dtype', 'f16, f32'],
    [['report', '--experiment', missingModel, '--heatmap-prompts=-3'], '--heatmap-prompts', 'at least 1'],
    [[...analyze, '--folds', '1'], '--folds', 'at least 2'],
    [[...analyze, '--bootstrap', '0'], '--bootstrap', 'at least 1'],
    [[...analyze, '--aggregation', '[5:2]'], '--aggregation', 'selects no tokens'],
    [[...analyze, '--train-groups', '44,x'], '--train-groups', 'not a whole number'],
    [['plan', ...model, '--dtype', 'bf16'], '--dtype', 'fp32, fp16, int8, int4'],
    [['plan', ...model, '--batch', '0'], '--batch', 'at least 1'],
    [['datasets', 'validate', missingModel, '--variant', 'csv'], '--variant', 'auto, text, jsonl'],
    [
      ['model-diff', '--experiment', missingModel, '--prompt-set', 'p', '--variant', 'a', '--part', 'tokens'],
      '--part',
      'response, prompt',
    ],
    [
      [
        'label',
        '--experiment',
        missingModel,
        '--prompt-set',
        'p',
        '--judge',
        'lexicon',
        '--threshold',
        '150',
      ],
      '--threshold',
      'from 0 to 100',
    ],
  ])('%j', async (argv, option, allowed) => {
    const result = await capture(argv);
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toContain(option);
    expect(result.stderr).toContain(allowed);
    // Refused before anything was read: the missing model folder was never looked at.
    expect(result.stderr).not.toContain('not found');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('model options', () => {
  const program = new Command('traitlens');
  registerCommands(program);
  const command = (name: string) => program.commands.find((candidate) => candidate.name() === name)!;
  const options = (name: string) =>
    new Map(command(name).options.map((option: Option) => [option.attributeName(), option]));
  // The commands that load a model, and any later one that takes --dtype (plan is checked below).
  const loading = [
    ...new Set([
      'generate',
      'activations',
      'extract',
      'steer',
      'capture',
      ...program.commands
        .filter(
          (candidate) => candidate.name() !== 'plan' && candidate.options.some((o) => o.long === '--dtype'),
        )
        .map((candidate) => candidate.name()),
    ]),
  ];

  it.each(loading)('%s takes every model option with the shared defaults', (name) => {
    const reference = options('generate');
    const mine = options(name);
    const keys = name === 'capture' ? modelOptionKeys.filter((key) => key !== 'loraMode') : modelOptionKeys;
    for (const key of ['model', ...keys]) {
      expect(mine.get(key)?.flags, `${name} ${key}`).toBe(reference.get(key)!.flags);
      expect(mine.get(key)?.defaultValue, `${name} ${key}`).toEqual(reference.get(key)!.defaultValue);
      if (key !== 'model')
        expect(mine.get(key)?.description, `${name} ${key}`).toBe(reference.get(key)!.description);
    }
    expect(mine.get('dtype')!.defaultValue).toBe(modelOptionDefaults.dtype);
    expect(mine.get('blockSize')!.defaultValue).toBe(modelOptionDefaults.blockSize);
  });

  it('plan defaults exactly as the run commands do', () => {
    const reference = options('generate');
    const plan = options('plan');
    for (const key of ['dtype', 'computeDtype', 'blockSize', 'zeroPoints', 'lora', 'loraScale', 'loraMode'])
      expect(plan.get(key)?.defaultValue, key).toEqual(reference.get(key)!.defaultValue);
  });

  it('answers have one --max-new-tokens default; extraction completions are documented as shorter', () => {
    const maxNewTokens = (name: string) => options(name).get('maxNewTokens')!.defaultValue;
    expect(maxNewTokens('steer')).toBe(maxNewTokens('generate'));
    expect(maxNewTokens('capture')).toBe(maxNewTokens('generate'));
    expect(options('extract').get('maxNewTokens')!.description).toContain('not a full answer');
  });

  it('no help text cites a file outside the repository', () => {
    const texts = program.commands.flatMap((candidate) => [
      candidate.description(),
      ...candidate.options.map((option: Option) => option.description),
    ]);
    expect(texts.join('\n')).not.toContain('STUDY.md');
  });
});

describe('the option vocabulary', () => {
  it('folds the earlier chat spellings into --prompt-format and --system-prompt', () => {
    expect(resolvePromptFormat({})).toEqual({ promptFormat: 'auto' });
    expect(resolvePromptFormat({ chat: true, system: 'Be brief.' })).toEqual({
      promptFormat: 'chat',
      systemPrompt: 'Be brief.',
    });
    expect(resolvePromptFormat({ chatTemplate: 'never' })).toEqual({ promptFormat: 'raw' });
    expect(resolvePromptFormat({ chatTemplate: 'always', promptFormat: 'raw' }).promptFormat).toBe('raw');
  });

  it('--version prints the package version', async () => {
    const result = await capture(['--version']);
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe(cliVersion());
    expect(cliVersion()).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe('steer and capture check their cheap arguments before loading the model', () => {
  // A model folder with config.json alone: any attempt to load it fails on the missing weights, so an
  // argument error (not a weights error) shows the check ran first.
  let modelFolder: string;
  let vectorsFor: (layers: number, hiddenSize?: number) => Promise<string>;
  const savedKey = process.env.OPENAI_API_KEY;
  const savedBase = process.env.OPENAI_BASE_URL;
  beforeAll(async () => {
    const root = await mkdtemp(join(tmpdir(), 'traitlens-steer-checks-'));
    modelFolder = join(root, 'model');
    await mkdir(modelFolder);
    await copyFile(storiesConfig, join(modelFolder, 'config.json'));
    vectorsFor = async (layers, hiddenSize = 64) => {
      const path = join(root, `vectors-${layers}-${hiddenSize}.safetensors`);
      await writeTraitVectors(path, {
        metadata: {
          trait: 'happiness',
          method: 'mean_diff',
          model: 'test',
          site: 'resid_post',
          tokenWindow: 'response[:5]',
          normalisation: 'unit',
          hiddenSize,
        },
        vectors: new Map(
          Array.from({ length: layers }, (_, layer) => [
            layer,
            Float32Array.from({ length: hiddenSize }, (_, i) => (i === layer ? 1 : 0)),
          ]),
        ),
      });
      return path;
    };
  });
  afterEach(() => {
    if (savedKey === undefined) delete process.env.OPENAI_API_KEY;
    else process.env.OPENAI_API_KEY = savedKey;
    if (savedBase === undefined) delete process.env.OPENAI_BASE_URL;
    else process.env.OPENAI_BASE_URL = savedBase;
  });
  const steer = (vectors: string, ...extra: string[]) =>
    capture([
      'steer',
      '--model',
      modelFolder,
      '--datasets',
      datasets,
      '--trait',
      'tinystories/happiness',
      '--vectors',
      vectors,
      ...extra,
    ]);

  it.skipIf(!existsSync(storiesConfig))(
    'each problem is reported before the weights are looked for',
    async () => {
      delete process.env.OPENAI_API_KEY;
      delete process.env.OPENAI_BASE_URL;
      const five = await vectorsFor(5);
      const noKey = await steer(five);
      expect(noKey.code).toBe(1);
      expect(noKey.stderr).toContain('OPENAI_API_KEY');

      const layer = await steer(five, '--judge', 'lexicon', '--layers', '7');
      expect(layer.stderr).toContain('Layer 7 is out of range: the model has 5 layers (0-4)');

      const narrow = await steer(await vectorsFor(5, 32), '--judge', 'lexicon');
      expect(narrow.stderr).toContain('has vectors of width 32');

      const deeper = await vectorsFor(8);
      const unasked = await steer(deeper, '--judge', 'lexicon');
      expect(unasked.stderr).toContain('has vectors for layers 0-7 but the model has 5 layers (0-4)');
      expect(unasked.stderr).toContain('--layers');

      const missing = await steer(await vectorsFor(2), '--judge', 'lexicon', '--layers', '1-3');
      expect(missing.stderr).toContain('has no vector for layers 2, 3');

      // Requested layers that exist in both pass every check: what fails now is loading the weights.
      const accepted = await steer(deeper, '--judge', 'lexicon', '--layers', '1-3');
      expect(accepted.code).toBe(1);
      expect(accepted.stderr).not.toMatch(/layer|width/i);

      // Without --vectors: the file extract wrote, for the method its evaluation ranked best.
      const experiment = await mkdtemp(join(tmpdir(), 'traitlens-steer-best-'));
      const extracted = join(experiment, 'extraction', 'tinystories', 'happiness');
      await mkdir(join(extracted, 'vectors'), { recursive: true });
      await writeFile(
        join(extracted, 'evaluation.json'),
        JSON.stringify({ sites: { resid_post: { best: { method: 'probe', layer: 2 } } } }),
      );
      await copyFile(deeper, join(extracted, 'vectors', 'probe.safetensors'));
      const best = await capture([
        'steer',
        '--model',
        modelFolder,
        '--datasets',
        datasets,
        '--trait',
        'tinystories/happiness',
        '--experiment',
        experiment,
        '--method',
        'best',
        '--judge',
        'lexicon',
      ]);
      expect(best.stderr).toContain(
        `${join(extracted, 'vectors', 'probe.safetensors')} has vectors for layers 0-7 but the model has 5 layers`,
      );

      const captureWith = (...extra: string[]) =>
        capture([
          'capture',
          '--experiment',
          experiment,
          '--prompt-set',
          join(repositoryRoot, 'datasets', 'inference', 'tinystories-demo.json'),
          '--model',
          modelFolder,
          '--variant',
          'base',
          ...extra,
        ]);
      expect((await captureWith('--layers', '9')).stderr).toContain('Layer 9 is out of range');
      const extractLayers = await capture([
        'extract',
        '--model',
        modelFolder,
        '--datasets',
        datasets,
        '--traits',
        'tinystories/happiness',
        '--experiment',
        experiment,
        '--layers',
        '2-9',
      ]);
      expect(extractLayers.stderr).toContain('Layer 5 is out of range');
      expect((await captureWith('--vectors', await vectorsFor(5, 32))).stderr).toContain(
        'has vectors of width 32',
      );
    },
  );
});
