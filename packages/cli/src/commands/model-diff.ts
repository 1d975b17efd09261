import type { Command } from 'commander';
import { experimentOption } from '../shared-options';

interface ModelDiffCommandOptions {
  experiment: string;
  base: string;
  changed: string;
  promptSet: string[];
  part: 'prompt' | 'response';
  output?: string;
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
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
    .requiredOption('--base <variant>', 'the reference variant, e.g. clean (the base model)')
    .requiredOption('--changed <variant>', 'the changed variant, e.g. lora (the fine-tuned model)')
    .requiredOption('--prompt-set <name>', 'a captured prompt set; repeat for several', collect)
    .option('--part <part>', 'tokens averaged: response or prompt', 'response')
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
      if (options.part !== 'response' && options.part !== 'prompt')
        throw new TraitlensError('INVALID_ARGUMENT', `--part ${options.part}: use response or prompt.`);
      const result = await study.writeModelDiffVectors({
        experiment: options.experiment,
        baseVariant: options.base,
        changedVariant: options.changed,
        promptSets: options.promptSet,
        part: options.part,
        ...(options.output ? { file: options.output } : {}),
      });
      process.stdout.write(
        `${result.prompts} prompts; vectors at layers ${result.layers.join(', ') || 'none'}${result.identicalLayers.length > 0 ? ` (no difference at layers ${result.identicalLayers.join(', ')})` : ''} -> ${relative(process.cwd(), result.file)}\n`,
      );
    });
}
