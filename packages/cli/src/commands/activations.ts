import { type Command, Option } from 'commander';
import { addModelOptions, layersOption, type ModelCommandOptions, sitesOption } from '../shared-options';

interface ActivationsCommandOptions extends ModelCommandOptions {
  text?: string;
  ids?: string;
  layers: string;
  sites: string[];
  output?: string;
  /** Deprecated spelling of --output. */
  out?: string;
}

export function registerActivationsCommand(program: Command): void {
  const command = program
    .command('activations')
    .description(
      'Run one forward pass and save residual-stream activations, logits and token ids as safetensors (docs/file-formats.md).',
    );
  addModelOptions(command);
  command
    .option('--text <text>', 'input text (BOS is added as the tokenizer does)')
    .option('--ids <ids>', 'comma-separated token ids, used as given')
    .addOption(layersOption(undefined, 'all'))
    .addOption(sitesOption())
    .option('--output <file>', 'output .safetensors file (required)')
    .addOption(new Option('--out <file>', 'deprecated: --output').hideHelp())
    .action(async (options: ActivationsCommandOptions) => {
      const [{ TraitlensError }, { writeActivationsFile }] = await Promise.all([
        import('@traitlens/core'),
        import('../write-activations-file'),
      ]);
      const output = options.output ?? options.out;
      if (output === undefined)
        throw new TraitlensError(
          'INVALID_ARGUMENT',
          '--output <file> is required: where to write the .safetensors file.',
        );
      const summary = await writeActivationsFile({ ...options, output });
      process.stderr.write(
        `wrote ${summary.tensorCount} tensors for ${summary.tokenCount} tokens to ${output}\n`,
      );
    });
}
