import type { CaptureProgressEvent, RunCaptureSummary } from '@traitlens/capture';
import type { HookSite } from '@traitlens/core';
import { type Command, Option } from 'commander';
import { choiceOption, collectValues, integerOption } from '../parse-option-values';
import type { ProgressDisplay, ProgressTask } from '../progress-display';
import { addShardOption, resolveCliShard } from '../shard-option';
import {
  addModelOptions,
  addPromptFormatOptions,
  batchSizeOption,
  describeLoraScaleProblem,
  experimentOption,
  layersOption,
  lockWaitOption,
  type ModelCommandOptions,
  maxNewTokensOption,
  type PromptFormatCommandOptions,
  resolvePromptFormat,
  sitesOption,
} from '../shared-options';

interface CaptureCommandOptions extends ModelCommandOptions, PromptFormatCommandOptions {
  experiment: string;
  promptSet: string;
  variant: string;
  replayVariant?: string;
  replayModel?: string;
  layers: string;
  sites: string[];
  maxNewTokens: number;
  limit?: number;
  batchSize: number;
  activationDtype: 'f16' | 'f32';
  vectors: string[];
  keepActivations?: boolean;
  force?: boolean;
  lockWait: number;
  shard?: string;
}

export function registerCaptureCommand(program: Command): void {
  const command = program
    .command('capture')
    .description(
      'Generate with a model variant and save prompt and response activations per prompt; optionally replay the same token ids through a second variant (model diff, docs/capture.md). Resumable: re-running skips finished prompts.',
    )
    .addOption(
      experimentOption('experiment folder; files go to <dir>/inference/<variant>/<prompt set>/', true),
    )
    .requiredOption(
      '--prompt-set <name|file>',
      'a prompt set name from datasets/inference (e.g. train_100) or a .json file in the same schema',
    );
  // The adapter is switchable here (the replay runs the same load at scale 0), so no --lora-mode.
  addModelOptions(command, {
    modelDescription: 'the generating model: local folder or hf:org/name[@revision]',
    omit: ['loraMode'],
  });
  command
    .requiredOption('--variant <name>', 'name of the generating variant (folder under inference/), e.g. lora')
    .option(
      '--replay-variant <name>',
      'replay the generated token ids through this variant, e.g. clean: --replay-model, or (with --lora) the same model at LoRA scale 0',
    )
    .option('--replay-model <source>', 'model of the replay variant (default: --model without the adapter)')
    .addOption(layersOption('layers to capture: all, 0,3,5 or 2-4', 'all'))
    .addOption(sitesOption())
    .addOption(maxNewTokensOption('tokens generated per answer (greedy)'))
    .addOption(
      new Option('--limit <n>', 'only the first n prompts of the set').argParser(integerOption({ min: 1 })),
    )
    .addOption(batchSizeOption(8, 'prompts per batched generate / forward call'))
    .addOption(
      new Option('--activation-dtype <dtype>', 'stored activations: f16 or f32')
        .argParser(choiceOption(['f16', 'f32'] as const))
        .default('f16'),
    )
    .option(
      '--vectors <[name=]file>',
      'store per-token projections onto this trait vector file instead of activations (repeatable)',
      collectValues,
      [],
    )
    .option('--keep-activations', 'with --vectors: store the activations at --layers/--sites too');
  addPromptFormatOptions(command);
  command.option('--force', 'regenerate and rewrite every prompt, even finished ones');
  command.addOption(lockWaitOption());
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
  const [capture, { createProgressDisplay }, { modelLoadProgress }, { toLoadModelOptions, toLockWaitMs }] =
    await Promise.all([
      import('@traitlens/capture'),
      import('../progress-display'),
      import('../load-model-for-cli'),
      import('../shared-options'),
    ]);
  const { promptFormat, systemPrompt } = await checkCaptureArguments(options);
  const shard = await resolveCliShard(options.shard);
  const display = createProgressDisplay();
  const loadProgress = modelLoadProgress(display);
  const progress = createCaptureProgress(display, loadProgress);
  try {
    const summary = await capture.runCapture({
      experiment: options.experiment,
      shard,
      promptSet: options.promptSet,
      limit: options.limit,
      variant: {
        name: options.variant,
        model: options.model,
        lora: options.lora === undefined ? undefined : { source: options.lora, scale: options.loraScale },
      },
      replayVariant:
        options.replayVariant === undefined
          ? undefined
          : { name: options.replayVariant, model: options.replayModel ?? options.model },
      layers: options.layers,
      sites: options.sites as HookSite[],
      vectors: options.vectors.length > 0 ? options.vectors.map(parseVectorArgument) : undefined,
      keepActivations: options.keepActivations,
      activationDtype: options.activationDtype === 'f32' ? 'F32' : 'F16',
      maxNewTokens: options.maxNewTokens,
      batchSize: options.batchSize,
      chatTemplate: ({ auto: 'auto', raw: 'never', chat: 'always' } as const)[promptFormat],
      systemPrompt,
      force: options.force,
      lockWaitMs: toLockWaitMs(options.lockWait),
      onLockWait: (owner) =>
        display.log(
          `waiting up to ${options.lockWait} s (--lock-wait) for ${owner ? `process ${owner.pid} on ${owner.hostname} (${owner.purpose})` : 'another process'} to finish the same prompts`,
        ),
      modelOptions: {
        ...toLoadModelOptions(options, { withLora: false }),
        onProgress: loadProgress.onProgress,
        onWarning: (message) => display.log(`warning: ${message}`),
      },
      onProgress: progress.onProgress,
    });
    progress.finish();
    display.stop();
    printCaptureSummary(summary);
  } finally {
    loadProgress.finish();
    display.stop();
  }
}

/**
 * Option combinations, layers and vector files against the model's config.json, before minutes of
 * loading a large model.
 */
async function checkCaptureArguments(
  options: CaptureCommandOptions,
): Promise<ReturnType<typeof resolvePromptFormat>> {
  const { TraitlensError, parseLayerSelection, readTraitVectors } = await import('@traitlens/core');
  const { readModelShape } = await import('../read-model-shape');
  const loraProblem = describeLoraScaleProblem(options);
  if (loraProblem) throw new TraitlensError('INVALID_ARGUMENT', loraProblem);
  const promptFormat = resolvePromptFormat(options);
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
  const shape = await readModelShape(options.model);
  parseLayerSelection(options.layers, shape.layerCount);
  for (const { path } of options.vectors.map(parseVectorArgument)) {
    const set = await readTraitVectors(path);
    if (set.metadata.hiddenSize !== shape.hiddenSize)
      throw new TraitlensError(
        'MODEL_MISMATCH',
        `--vectors ${path} has vectors of width ${set.metadata.hiddenSize} (extracted from ${set.metadata.model}) but ${options.model} has hidden size ${shape.hiddenSize}. Use vectors extracted from a model of the same family and size.`,
        { details: { file: path, expected: shape.hiddenSize, actual: set.metadata.hiddenSize } },
      );
  }
  return promptFormat;
}

/** Turns capture events into log lines and one progress bar per stage. */
function createCaptureProgress(
  display: ProgressDisplay,
  loadProgress: { finish(): void },
): { onProgress: (event: CaptureProgressEvent) => void; finish(): void } {
  let stage: ProgressTask | undefined;
  let generatedTokens = '';
  const onProgress = (event: CaptureProgressEvent): void => {
    switch (event.type) {
      case 'load':
        display.log(
          `loading ${event.model}${event.lora ? ` with LoRA ${event.lora} (switchable)` : ''} for ${event.variants.length === 1 ? 'variant' : 'variants'} ${event.variants.join(', ')}`,
        );
        break;
      case 'start': {
        loadProgress.finish();
        stage?.finish();
        generatedTokens = '';
        const missing = event.missing > 0 ? `, ${event.missing} without a source response` : '';
        display.log(
          `${event.stage} ${event.variant}/${event.promptSet}: ${event.total} prompts, ${event.skipped} already done${missing}`,
        );
        stage = display.task(`${event.stage} ${event.variant}`, {
          total: event.total,
          done: event.skipped,
          unit: 'prompts',
        });
        break;
      }
      case 'tokens':
        generatedTokens = `(${event.generatedTokens} tokens generated)`;
        break;
      case 'prompt':
        stage?.update(event.done, undefined, generatedTokens);
        break;
      case 'failed':
        display.log(`warning: replay skips prompt "${event.promptId}": ${event.reason}`);
        break;
    }
  };
  return { onProgress, finish: () => stage?.finish() };
}

function printCaptureSummary(summary: RunCaptureSummary): void {
  for (const stage of [summary.capture, summary.replay]) {
    if (!stage) continue;
    const missing = stage.missing > 0 ? `, ${stage.missing} missing from the source variant` : '';
    const failed = stage.failed?.length
      ? `, ${stage.failed.length} not replayable (see replay-failures.json)`
      : '';
    const generated =
      stage.stage === 'capture' ? `, ${stage.generated} generated (${stage.generatedTokens} tokens)` : '';
    process.stdout.write(
      `${stage.stage} ${stage.variant}/${stage.promptSet}: ${stage.written} written, ${stage.skipped} skipped${generated}${missing}${failed} in ${stage.seconds.toFixed(1)} s -> ${stage.directory}\n`,
    );
  }
}
