import { type Command, CommanderError, InvalidArgumentError } from 'commander';
import { parseInteger } from '../parse-option-values';

type WeightDtype = 'fp32' | 'fp16' | 'bf16' | 'int8' | 'int4';
type FloatDtype = 'fp32' | 'fp16' | 'bf16';

interface PlanCommandOptions {
  model: string;
  dtype: WeightDtype;
  blockSize: number;
  lora?: string;
  loraMode: 'switchable' | 'merged';
  batch: number;
  seq: number;
  activationDtype?: FloatDtype;
  kvDtype?: FloatDtype;
  captureLayers?: string;
  logits: 'all' | 'last';
  deviceMemory?: string;
  json?: boolean;
  offline?: boolean;
}

/** Exit code when --device-memory is given and the plan does not fit, so scripts can branch on it. */
const doesNotFitExitCode = 3;

function oneOf<T extends string>(allowed: readonly T[]) {
  return (value: string): T => {
    if (!(allowed as readonly string[]).includes(value))
      throw new InvalidArgumentError(`use one of ${allowed.join(', ')}.`);
    return value as T;
  };
}

function positiveInteger(value: string): number {
  const parsed = parseInteger(value);
  if (parsed <= 0) throw new InvalidArgumentError(`"${value}" must be at least 1.`);
  return parsed;
}

export function registerPlanCommand(program: Command): void {
  program
    .command('plan')
    .description(
      'Estimate weights, LoRA, KV cache and activation memory before downloading a model: for hf: sources only config.json (and adapter_config.json) are fetched.',
    )
    .requiredOption('--model <source>', 'local model folder or hf:org/name[@revision]')
    .option(
      '--dtype <dtype>',
      'weights: fp32, fp16, bf16, int8 or int4',
      oneOf<WeightDtype>(['fp32', 'fp16', 'bf16', 'int8', 'int4']),
      'fp16',
    )
    .option('--block-size <n>', 'int4/int8 quantization block size (32 or 128)', positiveInteger, 32)
    .option('--lora <source>', 'PEFT LoRA adapter: local folder or hf:org/name[@revision]')
    .option(
      '--lora-mode <mode>',
      'switchable (runtime branches) or merged (folded into the weights)',
      oneOf(['switchable', 'merged'] as const),
      'switchable',
    )
    .option('--batch <n>', 'rows per batch', positiveInteger, 1)
    .option('--seq <n>', 'tokens per row, prompt plus generated', positiveInteger, 1024)
    .option(
      '--activation-dtype <dtype>',
      'activations, int4/int8 scales and embeddings (default fp16 for fp16/bf16 weights, else fp32 as traitlens runs them)',
      oneOf<FloatDtype>(['fp32', 'fp16', 'bf16']),
    )
    .option(
      '--kv-dtype <dtype>',
      'KV cache (default: the activation dtype)',
      oneOf<FloatDtype>(['fp32', 'fp16', 'bf16']),
    )
    .option('--capture-layers <layers>', 'layers whose resid_post is captured: all, 0,3,5 or 2-4')
    .option(
      '--logits <which>',
      'logits fetched for every position (all) or the last per row (last)',
      oneOf(['all', 'last'] as const),
      'all',
    )
    .option(
      '--device-memory <size>',
      `device memory to check against, e.g. 80GB or 81559MiB (exit code ${doesNotFitExitCode} when it does not fit)`,
    )
    .option('--json', 'print the plan as JSON')
    .option('--offline', 'use the Hugging Face cache only (as HF_HUB_OFFLINE=1)')
    .action(async (options: PlanCommandOptions) => {
      const { assessMemoryFit, formatMemoryPlan, parseByteSize, planMemoryForSource } = await import(
        '@traitlens/model-runtime'
      );
      // Parsed before any download so a typo fails fast.
      const deviceBytes =
        options.deviceMemory === undefined ? undefined : parseByteSize(options.deviceMemory);
      const { plan, model, lora } = await planMemoryForSource({
        model: options.model,
        dtype: options.dtype,
        blockSize: options.blockSize,
        batchSize: options.batch,
        sequenceLength: options.seq,
        logits: options.logits,
        loraMode: options.loraMode,
        ...(options.lora ? { lora: options.lora } : {}),
        ...(options.activationDtype ? { activationDtype: options.activationDtype } : {}),
        ...(options.kvDtype ? { kvDtype: options.kvDtype } : {}),
        ...(options.captureLayers ? { captureLayers: options.captureLayers } : {}),
        hub: {
          ...(options.offline ? { offline: true } : {}),
          onProgress: (event) => {
            if (event.type === 'cache-fallback')
              process.stderr.write(
                `traitlens: the Hub is unreachable; using the cached hf:${event.repo}@${event.commit.slice(0, 12)} (${event.reason})\n`,
              );
          },
        },
      });
      const fit = deviceBytes === undefined ? undefined : assessMemoryFit(plan, deviceBytes);
      if (options.json) {
        const source = (resolved: typeof model) => ({
          source: options.model,
          repo: resolved.repo,
          revision: resolved.revision,
          directory: resolved.directory,
        });
        process.stdout.write(
          `${JSON.stringify({ model: source(model), lora: lora ? { ...source(lora), source: options.lora } : undefined, plan, fit }, null, 2)}\n`,
        );
      } else {
        const pinned = (label: string, name: string, resolved: typeof model) =>
          resolved.revision ? `${label} ${name} (commit ${resolved.revision.slice(0, 12)})\n` : '';
        process.stdout.write(
          `${pinned('model', options.model, model)}${lora && options.lora ? pinned('lora ', options.lora, lora) : ''}${formatMemoryPlan(plan, deviceBytes)}\n`,
        );
      }
      if (fit && !fit.fits) {
        // The verdict is already printed; the error only carries the exit code out of runCli.
        throw new CommanderError(
          doesNotFitExitCode,
          'traitlens.plan.doesNotFit',
          'the plan does not fit the device memory',
        );
      }
    });
}
