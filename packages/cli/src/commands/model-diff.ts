import { type Command, Option } from 'commander';
import { choiceOption, collectList } from '../parse-option-values';
import { experimentOption } from '../shared-options';

interface ModelDiffCommandOptions {
  experiment: string;
  variant?: string;
  baselineVariant?: string;
  /** Earlier spellings of --baseline-variant and --variant. */
  base?: string;
  changed?: string;
  promptSet: string[];
  part: 'prompt' | 'response';
  output?: string;
}

export function registerModelDiffCommand(program: Command): void {
  program
    .command('model-diff')
    .description(
      'Write a trait vector from a model diff: per layer, the mean over prompts of the mean over response tokens of (changed - base) resid_post activations, both variants on the same token ids (capture one, replay it onto the other). The result is an ordinary vector file (method mean_diff, raw scale) for steer, analyze or GGUF export. See docs/study.md.',
    )
    .addOption(
      experimentOption('experiment folder holding inference/<variant>/<prompt set>/activations', true),
    )
    // The names analyze uses for the same pair: the vector is variant - baseline.
    .option('--variant <name>', 'the changed variant, e.g. lora (the fine-tuned model; required)')
    .option('--baseline-variant <name>', 'the reference variant, e.g. clean (the base model; required)')
    .addOption(new Option('--changed <variant>', 'deprecated: --variant').hideHelp())
    .addOption(new Option('--base <variant>', 'deprecated: --baseline-variant').hideHelp())
    .requiredOption(
      '--prompt-set <names>',
      'captured prompt set(s), comma-separated or repeated',
      collectList,
    )
    .addOption(
      new Option('--part <part>', 'tokens averaged: response or prompt')
        .argParser(choiceOption(['response', 'prompt'] as const))
        .default('response'),
    )
    .option(
      '--output <file>',
      'vector file (default <experiment>/model-diff/<changed>-minus-<base>/vectors/mean_diff.safetensors)',
    )
    .action(async (options: ModelDiffCommandOptions) => {
      const [study, { TraitlensError }, { relative }] = await Promise.all([
        import('@traitlens/study'),
        import('@traitlens/core'),
        import('node:path'),
      ]);
      const changedVariant = options.variant ?? options.changed;
      const baseVariant = options.baselineVariant ?? options.base;
      if (changedVariant === undefined || baseVariant === undefined)
        throw new TraitlensError(
          'INVALID_ARGUMENT',
          'Name both variants: --variant <changed, e.g. lora> --baseline-variant <reference, e.g. clean>.',
        );
      const result = await study.writeModelDiffVectors({
        experiment: options.experiment,
        baseVariant,
        changedVariant,
        promptSets: options.promptSet,
        part: options.part,
        ...(options.output ? { file: options.output } : {}),
      });
      process.stdout.write(
        `${result.prompts} prompts; vectors at layers ${result.layers.join(', ') || 'none'}${result.identicalLayers.length > 0 ? ` (no difference at layers ${result.identicalLayers.join(', ')})` : ''} -> ${relative(process.cwd(), result.file)}\n`,
      );
    });
}
