import { type Command, InvalidArgumentError } from 'commander';
import { parseInteger, parseList, parseNumber } from '../parse-option-values';
import { addShardOption, resolveCliShard } from '../shard-option';

interface CaptureCommandOptions {
  experiment: string;
  promptSet: string;
  model: string;
  lora?: string;
  loraScale: number;
  variant: string;
  replayVariant?: string;
  replayModel?: string;
  layers: string;
  sites: string[];
  maxNewTokens: number;
  limit?: number;
  batchSize: number;
  dtype: 'fp32' | 'fp16' | 'int8' | 'int4';
  blockSize?: number;
  activationDtype: 'f16' | 'f32';
  vectors: string[];
  keepActivations?: boolean;
  chatTemplate: 'auto' | 'always' | 'never';
  systemPrompt?: string;
  force?: boolean;
  threads?: number;
  providers?: string[];
  shard?: string;
}

function parseChoice<T extends string>(choices: readonly T[]): (value: string) => T {
  return (value) => {
    if (!(choices as readonly string[]).includes(value))
      throw new InvalidArgumentError(`"${value}" is not one of ${choices.join(', ')}.`);
    return value as T;
  };
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function registerCaptureCommand(program: Command): void {
  const command = program
    .command('capture')
    .description(
      'Generate with a model variant and save prompt and response activations per prompt; optionally replay the same token ids through a second variant (model diff, STUDY.md section 5). Resumable: re-running skips finished prompts.',
    )
    .requiredOption(
      '--experiment <dir>',
      'experiment folder; files go to <dir>/inference/<variant>/<prompt set>/',
    )
    .requiredOption(
      '--prompt-set <name|file>',
      'a prompt set name from datasets/inference (e.g. train_100) or a .json file in the same schema',
    )
    .requiredOption('--model <source>', 'the generating model: local folder or hf:org/name[@revision]')
    .option('--lora <source>', 'PEFT LoRA adapter of the generating variant (folder or hf:org/name)')
    .option('--lora-scale <x>', 'scale of the adapter', parseNumber, 1)
    .requiredOption('--variant <name>', 'name of the generating variant (folder under inference/), e.g. lora')
    .option(
      '--replay-variant <name>',
      'replay the generated token ids through this variant, e.g. clean: --replay-model, or (with --lora) the same model at LoRA scale 0',
    )
    .option('--replay-model <source>', 'model of the replay variant (default: --model without the adapter)')
    .option('--layers <layers>', 'layers to capture: all, 0,3,5 or 2-4', 'all')
    .option('--sites <sites>', 'hook sites: resid_pre,attn_out,resid_mid,mlp_out,resid_post', parseList, [
      'resid_post',
    ])
    .option('--max-new-tokens <n>', 'tokens generated per prompt (greedy)', parseInteger, 128)
    .option('--limit <n>', 'only the first n prompts of the set', parseInteger)
    .option('--batch-size <n>', 'prompts per batched generate / forward call', parseInteger, 8)
    .option(
      '--dtype <dtype>',
      'model weights: fp32, fp16 (GPU), int8 or int4',
      parseChoice(['fp32', 'fp16', 'int8', 'int4'] as const),
      'fp32',
    )
    .option('--block-size <n>', 'quantization block size for int8/int4: 32, 64 or 128', parseInteger)
    .option(
      '--activation-dtype <dtype>',
      'stored activations: f16 or f32',
      parseChoice(['f16', 'f32'] as const),
      'f16',
    )
    .option(
      '--vectors <[name=]file>',
      'store per-token projections onto this trait vector file instead of activations (repeatable)',
      collect,
      [],
    )
    .option('--keep-activations', 'with --vectors: store the activations at --layers/--sites too')
    .option(
      '--chat-template <use>',
      'auto (user message when the model has a template), always or never (raw text)',
      parseChoice(['auto', 'always', 'never'] as const),
      'auto',
    )
    .option('--system-prompt <text>', 'system message before each prompt (chat template only)')
    .option('--force', 'regenerate and rewrite every prompt, even finished ones')
    .option('--threads <n>', 'CPU threads', parseInteger)
    .option('--providers <list>', 'execution providers to try in order, e.g. cuda,cpu', parseList);
  addShardOption(command).action(async (options: CaptureCommandOptions) => {
    await runCaptureCommand(options);
  });
}

function parseVectorArgument(value: string): { path: string; name?: string } {
  const equals = value.indexOf('=');
  // A name is a simple word before "="; anything else (a path that merely contains "=") is a path.
  if (equals > 0 && /^[\w./:-]+$/.test(value.slice(0, equals)) && !value.slice(0, equals).includes('/'))
    return { name: value.slice(0, equals), path: value.slice(equals + 1) };
  return { path: value };
}

async function runCaptureCommand(options: CaptureCommandOptions): Promise<void> {
  const [{ hookSites, isHookSite, TraitlensError }, capture, { default: cliProgress }] = await Promise.all([
    import('@traitlens/core'),
    import('@traitlens/capture'),
    import('cli-progress'),
  ]);
  const sites = options.sites.map((site) => {
    if (!isHookSite(site))
      throw new TraitlensError(
        'INVALID_ARGUMENT',
        `--sites: "${site}" is not a hook site; use ${hookSites.join(', ')}.`,
        { details: { site } },
      );
    return site;
  });
  if (options.replayModel !== undefined && options.replayVariant === undefined)
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      '--replay-model needs --replay-variant <name> to name its folder.',
    );
  if (options.replayVariant !== undefined && options.replayModel === undefined && options.lora === undefined)
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      `--replay-variant ${options.replayVariant} needs --replay-model <source>, or --lora so that the replay runs the same model with the adapter at scale 0.`,
    );
  if (options.blockSize !== undefined && ![32, 64, 128].includes(options.blockSize))
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      `--block-size must be 32, 64 or 128 (got ${options.blockSize}).`,
    );

  // Bars only on a terminal; a log file gets start and finish lines and every tenth of the way.
  const bars = process.stderr.isTTY
    ? new cliProgress.MultiBar(
        {
          stream: process.stderr,
          clearOnComplete: false,
          hideCursor: true,
          format: '{label} |{bar}| {value}/{total} prompts {detail}',
          autopadding: true,
        },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  const log = (line: string) => (bars ? bars.log(`${line}\n`) : process.stderr.write(`${line}\n`));
  type Bar = ReturnType<NonNullable<typeof bars>['create']>;
  let stageBar: Bar | undefined;
  let loadBar: Bar | undefined;
  let nextLoggedTenth = 1;
  const shard = await resolveCliShard(options.shard);
  try {
    const summary = await capture.runCapture({
      experiment: options.experiment,
      ...(shard === undefined ? {} : { shard }),
      promptSet: options.promptSet,
      ...(options.limit === undefined ? {} : { limit: options.limit }),
      variant: {
        name: options.variant,
        model: options.model,
        ...(options.lora === undefined ? {} : { lora: { source: options.lora, scale: options.loraScale } }),
      },
      ...(options.replayVariant === undefined
        ? {}
        : { replayVariant: { name: options.replayVariant, model: options.replayModel ?? options.model } }),
      layers: options.layers,
      sites,
      ...(options.vectors.length > 0 ? { vectors: options.vectors.map(parseVectorArgument) } : {}),
      ...(options.keepActivations ? { keepActivations: true } : {}),
      activationDtype: options.activationDtype === 'f32' ? 'F32' : 'F16',
      maxNewTokens: options.maxNewTokens,
      batchSize: options.batchSize,
      chatTemplate: options.chatTemplate,
      ...(options.systemPrompt === undefined ? {} : { systemPrompt: options.systemPrompt }),
      ...(options.force ? { force: true } : {}),
      modelOptions: {
        dtype: options.dtype,
        ...(options.blockSize === undefined ? {} : { blockSize: options.blockSize as 32 | 64 | 128 }),
        ...(options.threads === undefined ? {} : { threads: options.threads }),
        ...(options.providers?.length
          ? { providers: options.providers as Array<'cpu' | 'cuda' | 'webgpu'> }
          : {}),
        onProgress: (event) => {
          if (!bars) return;
          if (!loadBar) loadBar = bars.create(event.total, 0, { label: event.stage, detail: '' });
          loadBar.setTotal(event.total);
          loadBar.update(event.done, { label: event.stage, detail: event.item });
        },
        onWarning: (message) => log(message),
      },
      onProgress: (event) => {
        switch (event.type) {
          case 'load':
            log(
              `loading ${event.model}${event.lora ? ` with LoRA ${event.lora} (switchable)` : ''} for ${event.variants.length === 1 ? 'variant' : 'variants'} ${event.variants.join(', ')}`,
            );
            break;
          case 'start': {
            if (loadBar) {
              bars?.remove(loadBar);
              loadBar = undefined;
            }
            stageBar?.stop();
            const missing = event.missing > 0 ? `, ${event.missing} without a source response` : '';
            log(
              `${event.stage} ${event.variant}/${event.promptSet}: ${event.total} prompts, ${event.skipped} already done${missing}`,
            );
            stageBar = bars?.create(event.total, event.skipped, {
              label: `${event.stage} ${event.variant}`,
              detail: '',
            });
            nextLoggedTenth = Math.floor((10 * event.skipped) / Math.max(1, event.total)) + 1;
            break;
          }
          case 'tokens':
            stageBar?.update({ detail: `(${event.generatedTokens} tokens generated)` });
            break;
          case 'prompt':
            stageBar?.update(event.done);
            if (!bars && event.done * 10 >= nextLoggedTenth * event.total) {
              nextLoggedTenth = Math.floor((10 * event.done) / event.total) + 1;
              log(`${event.stage} ${event.variant}: ${event.done}/${event.total} prompts`);
            }
            break;
        }
      },
    });
    bars?.stop();
    for (const stage of [summary.capture, summary.replay]) {
      if (!stage) continue;
      const missing = stage.missing > 0 ? `, ${stage.missing} missing from the source variant` : '';
      const generated =
        stage.stage === 'capture' ? `, ${stage.generated} generated (${stage.generatedTokens} tokens)` : '';
      process.stdout.write(
        `${stage.stage} ${stage.variant}/${stage.promptSet}: ${stage.written} written, ${stage.skipped} skipped${generated}${missing} in ${stage.seconds.toFixed(1)} s -> ${stage.directory}\n`,
      );
    }
  } finally {
    bars?.stop();
  }
}
