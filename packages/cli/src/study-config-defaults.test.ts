import { parseExperimentConfig } from '@traitlens/study';
import { Command, type Option } from 'commander';
import { describe, expect, it } from 'vitest';
import { registerCommands } from './register-commands';
import { modelOptionDefaults } from './shared-options';

// One option vocabulary: a study-config field and the CLI option for the same concept share the name
// (camelCase of the flag), the accepted values and the default.
const config = parseExperimentConfig(
  `
name: demo
models:
  extraction: { source: "hf:org/base" }
  instruct: { source: "hf:org/instruct" }
  lora: { source: "hf:org/lora" }
judge: { spec: "openai:gpt-4.1-mini" }
stages:
  extract: { traits: [alignment/sycophancy] }
  capture: { promptSets: [train_100] }
  label: { keywords: { "*": [robot] } }
  intervene: { vector: { trait: alignment/sycophancy }, layer: 1, coefficients: [4] }
  predictivity: { caa: { items: a.json }, contrastSets: [{ name: c, file: c.json }] }
  analyze: {}
`,
  'defaults.yaml',
);

const program = new Command('traitlens');
registerCommands(program);

function cliOption(commandName: string, flag: string): Option {
  const command = program.commands.find((entry) => entry.name() === commandName);
  const option = command?.options.find((entry) => entry.long === flag);
  if (!option) throw new Error(`traitlens ${commandName} has no ${flag}`);
  return option;
}

/** `--max-new-tokens` -> `maxNewTokens`; `--no-relevance-cap` -> `relevanceCap`. */
function fieldName(flag: string): string {
  return flag.replace(/^--(no-)?/, '').replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
}

const stages = config.stages as unknown as Record<string, Record<string, unknown>>;

// [study stage, field, CLI command]: the field's default must be the option's.
const sameConcept: [string, string, string][] = [
  ['extract', '--token-window', 'extract'],
  ['extract', '--max-new-tokens', 'extract'],
  ['extract', '--batch-size', 'extract'],
  ['extract', '--validation-fraction', 'extract'],
  ['extract', '--layers', 'extract'],
  ['steer', '--steps', 'steer'],
  ['steer', '--direction', 'steer'],
  ['steer', '--coherence-threshold', 'steer'],
  ['steer', '--max-new-tokens', 'steer'],
  ['steer', '--batch-size', 'steer'],
  ['steer', '--no-relevance-cap', 'steer'],
  ['capture', '--max-new-tokens', 'capture'],
  ['capture', '--batch-size', 'capture'],
  ['replay', '--batch-size', 'capture'],
  ['label', '--threshold', 'label'],
  ['label', '--behaviour', 'label'],
  ['predictivity', '--bootstrap', 'analyze'],
  ['predictivity', '--seed', 'analyze'],
  ['analyze', '--measure', 'analyze'],
  ['analyze', '--aggregation', 'analyze'],
  ['analyze', '--bootstrap', 'analyze'],
  ['analyze', '--permutations', 'analyze'],
  ['analyze', '--folds', 'analyze'],
  ['analyze', '--random-baselines', 'analyze'],
  ['analyze', '--seed', 'analyze'],
  ['analyze', '--token-view', 'analyze'],
];

describe('study config and CLI share one option vocabulary', () => {
  it.each(sameConcept)('stages.%s %s has the default of traitlens %s', (stage, flag, command) => {
    const option = cliOption(command, flag);
    expect(stages[stage]).toHaveProperty(fieldName(flag));
    // A negatable flag (--no-x) defaults to true.
    expect(stages[stage]![fieldName(flag)]).toEqual(option.negate ? true : option.defaultValue);
  });

  it('stages.capture.activationDtype takes the CLI spelling and default (f16, f32)', () => {
    const option = cliOption('capture', '--activation-dtype');
    expect(option.defaultValue).toBe('f16');
    expect(config.stages.capture!.activationDtype).toBe('F16');
    for (const value of ['f16', 'f32']) {
      expect(option.parseArg!(value, undefined)).toBe(value);
      const parsed = parseExperimentConfig(
        `name: d\nmodels: { extraction: { source: "hf:a/b" }, instruct: { source: "hf:a/c" }, lora: { source: "hf:a/d" } }\njudge: { spec: lexicon }\nstages: { extract: { traits: [a/b] }, capture: { promptSets: [p], activationDtype: ${value} }, analyze: {} }\n`,
        'd.yaml',
      );
      expect(parsed.stages.capture!.activationDtype).toBe(value.toUpperCase());
    }
  });

  it('stages.predictivity.promptFormat has the choices and default of --prompt-format', () => {
    const option = cliOption('capture', '--prompt-format');
    // Left out, --prompt-format is auto (resolvePromptFormat); the study default is written out.
    expect(option.defaultValue).toBeUndefined();
    expect(config.stages.predictivity!.promptFormat).toBe('auto');
    for (const value of ['auto', 'raw', 'chat']) expect(option.parseArg!(value, undefined)).toBe(value);
  });

  it('the runtime block defaults to the model options of every command', () => {
    // Left out, the study loads models as loadModel's defaults, which are the CLI's.
    expect(config.runtime).toEqual({});
    for (const command of ['extract', 'steer', 'capture', 'generate']) {
      expect(cliOption(command, '--dtype').defaultValue).toBe(modelOptionDefaults.dtype);
      expect(cliOption(command, '--block-size').defaultValue).toBe(modelOptionDefaults.blockSize);
      expect(cliOption(command, '--no-zero-points').defaultValue).toBe(modelOptionDefaults.zeroPoints);
      expect(cliOption(command, '--compute-dtype').defaultValue).toBe(modelOptionDefaults.computeDtype);
    }
  });
});
