import type { Command } from 'commander';
import { parseInteger, parseList, parseNumber } from '../parse-option-values';

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
  dtype: 'fp32' | 'fp16' | 'int8' | 'int4';
  providers?: string[];
  lora?: string;
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
    .option('--dtype <dtype>', 'fp32, fp16, int8 or int4', 'fp32')
    .option('--providers <list>', 'execution providers to try in order, e.g. cuda,cpu', parseList)
    .option('--lora <source>', 'PEFT LoRA adapter folder or hf:org/name')
    .option('--threads <n>', 'CPU threads', parseInteger)
    .action(async (options: GenerateCommandOptions) => {
      const { loadModelForCli } = await import('../load-model-for-cli');
      const model = await loadModelForCli(options.model, options);
      try {
        const prompt = options.chat
          ? [
              ...(options.system ? [{ role: 'system', content: options.system }] : []),
              { role: 'user', content: options.prompt },
            ]
          : options.prompt;
        // Raw prompts print as one continuous text; chat answers print alone. Tokens are printed as they
        // are generated (each piece is what the token adds in context, so the pieces form the text).
        if (!options.chat) process.stdout.write(options.prompt);
        await model.generate([prompt], {
          maxNewTokens: options.maxNewTokens,
          temperature: options.temperature,
          seed: options.seed,
          ...(options.topP !== undefined ? { topP: options.topP } : {}),
          ...(options.topK !== undefined ? { topK: options.topK } : {}),
          onToken: (event) => process.stdout.write(event.text),
        });
        process.stdout.write('\n');
      } finally {
        await model.dispose();
      }
    });
}
