import { type Command, InvalidArgumentError, Option } from 'commander';
import { integerOption } from '../parse-option-values';
import { addModelOptions, layersOption, type ModelCommandOptions, sitesOption } from '../shared-options';

interface ActivationsCommandOptions extends ModelCommandOptions {
  text?: string;
  ids?: number[];
  layers: string;
  sites: string[];
  output?: string;
  /** Deprecated spelling of --output. */
  out?: string;
}

/** `1,403,407`: non-negative whole numbers, at least one. */
function parseTokenIds(value: string): number[] {
  const parseId = integerOption({ min: 0 });
  const parts = value.split(',').map((part) => part.trim());
  if (parts.some((part) => part === ''))
    throw new InvalidArgumentError(
      'Allowed: comma-separated token ids (whole numbers of at least 0), e.g. 1,403,407.',
    );
  return parts.map(parseId);
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
    .option('--ids <ids>', 'comma-separated token ids, used as given', parseTokenIds)
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
