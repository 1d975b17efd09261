import type { Command } from 'commander';
import { parseInteger, parseList } from '../parse-option-values';

interface ActivationsCommandOptions {
  model: string;
  text?: string;
  ids?: string;
  layers: string;
  sites: string[];
  out: string;
  dtype: 'fp32' | 'fp16' | 'int8' | 'int4';
  providers?: string[];
  lora?: string;
  threads?: number;
}

export function registerActivationsCommand(program: Command): void {
  program
    .command('activations')
    .description(
      'Run one forward pass and save residual-stream activations, logits and token ids as safetensors.',
    )
    .requiredOption('--model <source>', 'local model folder or hf:org/name[@revision]')
    .option('--text <text>', 'input text (BOS is added as the tokenizer does)')
    .option('--ids <ids>', 'comma-separated token ids, used as given')
    .option('--layers <layers>', 'all, a list 0,3,5 or a range 2-4', 'all')
    .option('--sites <sites>', 'hook sites: resid_pre,attn_out,resid_mid,mlp_out,resid_post', parseList, [
      'resid_post',
    ])
    .requiredOption('--out <file>', 'output .safetensors file')
    .option('--dtype <dtype>', 'fp32, fp16, int8 or int4', 'fp32')
    .option('--providers <list>', 'execution providers to try in order, e.g. cuda,cpu', parseList)
    .option('--lora <source>', 'PEFT LoRA adapter folder or hf:org/name')
    .option('--threads <n>', 'CPU threads', parseInteger)
    .action(async (options: ActivationsCommandOptions) => {
      const { writeActivationsFile } = await import('../write-activations-file');
      const summary = await writeActivationsFile(options);
      process.stderr.write(
        `wrote ${summary.tensorCount} tensors for ${summary.tokenCount} tokens to ${options.out}\n`,
      );
    });
}
