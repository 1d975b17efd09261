import type { Command } from 'commander';
import { parseInteger, parseNumber } from '../parse-option-values';

interface GenerateCommandOptions {
  model: string;
  prompt: string;
  maxNewTokens: number;
  temperature: number;
  topP?: number;
  topK?: number;
  seed: number;
  chat?: boolean;
  system?: string;
  dtype: 'fp32' | 'fp16';
  threads?: number;
}

export function registerGenerateCommand(program: Command): void {
  program
    .command('generate')
    .description('Generate a continuation (greedy unless --temperature is set) and print it.')
    .requiredOption('--model <source>', 'local model folder or hf:org/name[@revision]')
    .requiredOption('--prompt <text>', 'prompt text ("" starts from BOS alone)')
    .option('--max-new-tokens <n>', 'tokens to generate', parseInteger, 64)
    .option('--temperature <t>', 'sampling temperature (0 = greedy)', parseNumber, 0)
    .option('--top-p <p>', 'nucleus sampling mass', parseNumber)
    .option('--top-k <k>', 'sample among the k most likely tokens', parseInteger)
    .option('--seed <n>', 'random seed for sampling', parseInteger, 0)
    .option('--chat', 'wrap the prompt as a user message in the chat template')
    .option('--system <text>', 'system message (with --chat)')
    .option('--dtype <dtype>', 'fp32 or fp16', 'fp32')
    .option('--threads <n>', 'CPU threads', parseInteger)
    .action(async (options: GenerateCommandOptions) => {
      const { loadModel } = await import('@traitlens/model-runtime');
      const model = await loadModel(options.model, {
        dtype: options.dtype,
        ...(options.threads ? { threads: options.threads } : {}),
      });
      try {
        const prompt = options.chat
          ? [
              ...(options.system ? [{ role: 'system', content: options.system }] : []),
              { role: 'user', content: options.prompt },
            ]
          : options.prompt;
        const [result] = await model.generate([prompt], {
          maxNewTokens: options.maxNewTokens,
          temperature: options.temperature,
          seed: options.seed,
          ...(options.topP !== undefined ? { topP: options.topP } : {}),
          ...(options.topK !== undefined ? { topK: options.topK } : {}),
        });
        // Raw prompts print as one continuous text; chat answers print alone.
        const prefix = options.chat ? '' : options.prompt;
        process.stdout.write(`${prefix}${result!.responseText}\n`);
      } finally {
        await model.dispose();
      }
    });
}
