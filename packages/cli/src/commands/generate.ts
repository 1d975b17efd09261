import type { Command } from 'commander';
import {
  addModelOptions,
  addPromptFormatOptions,
  describeLoraScaleProblem,
  type ModelCommandOptions,
  maxNewTokensOption,
  type PromptFormatCommandOptions,
  resolvePromptFormat,
  seedOption,
  temperatureOption,
  topKOption,
  topPOption,
} from '../shared-options';

interface GenerateCommandOptions extends ModelCommandOptions, PromptFormatCommandOptions {
  prompt: string;
  maxNewTokens: number;
  temperature: number;
  topP?: number;
  topK?: number;
  seed: number;
}

export function registerGenerateCommand(program: Command): void {
  const command = program
    .command('generate')
    .description(
      'Generate a continuation (greedy unless --temperature is set) and print it as it is produced.',
    );
  addModelOptions(command);
  command
    .requiredOption('--prompt <text>', 'prompt text ("" starts from BOS alone)')
    .addOption(maxNewTokensOption())
    .addOption(temperatureOption())
    .addOption(topPOption())
    .addOption(topKOption())
    .addOption(seedOption('random seed for sampling'));
  addPromptFormatOptions(command);
  command.action(async (options: GenerateCommandOptions) => {
    const [{ TraitlensError }, { loadModelForCli }] = await Promise.all([
      import('@traitlens/core'),
      import('../load-model-for-cli'),
    ]);
    const loraProblem = describeLoraScaleProblem(options);
    if (loraProblem) throw new TraitlensError('INVALID_ARGUMENT', loraProblem);
    const { promptFormat, systemPrompt } = resolvePromptFormat(options);
    if (systemPrompt !== undefined && promptFormat === 'raw')
      throw new TraitlensError(
        'INVALID_ARGUMENT',
        '--system-prompt needs the chat template: drop --prompt-format raw (or use --prompt-format chat).',
      );
    const model = await loadModelForCli(options);
    try {
      const chat = promptFormat === 'chat' || (promptFormat === 'auto' && model.tokenizer.hasChatTemplate);
      if (chat && !model.tokenizer.hasChatTemplate)
        throw new TraitlensError(
          'INVALID_ARGUMENT',
          `--prompt-format chat: ${options.model} has no chat template; use --prompt-format raw.`,
        );
      if (!chat && systemPrompt !== undefined)
        throw new TraitlensError(
          'INVALID_ARGUMENT',
          `--system-prompt needs the chat template, and ${options.model} has none; drop --system-prompt.`,
        );
      const prompt = chat
        ? [
            ...(systemPrompt === undefined ? [] : [{ role: 'system', content: systemPrompt }]),
            { role: 'user', content: options.prompt },
          ]
        : options.prompt;
      // Raw prompts print as one continuous text; chat answers print alone. Tokens are printed as they
      // are generated (each piece is what the token adds in context, so the pieces form the text).
      if (!chat) process.stdout.write(options.prompt);
      await model.generate([prompt], {
        maxNewTokens: options.maxNewTokens,
        temperature: options.temperature,
        seed: options.seed,
        topP: options.topP,
        topK: options.topK,
        onToken: (event) => process.stdout.write(event.text),
      });
      process.stdout.write('\n');
    } finally {
      await model.dispose();
    }
  });
}
