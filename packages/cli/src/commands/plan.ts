import { type Command, CommanderError, Option } from 'commander';
import { choiceOption, integerOption } from '../parse-option-values';
import {
  addModelOptions,
  describeLoraScaleProblem,
  type ModelCommandOptions,
  parseLayerSelectionSyntax,
} from '../shared-options';

type FloatDtype = 'fp32' | 'fp16' | 'bf16';

interface PlanCommandOptions extends Omit<ModelCommandOptions, 'providers' | 'threads'> {
  batch: number;
  seq: number;
  activationDtype?: FloatDtype;
  kvDtype?: FloatDtype;
  captureLayers?: string;
  logits: 'all' | 'last';
  deviceMemory?: string;
  provider: 'cpu' | 'gpu';
  hookPlans: number;
  json?: boolean;
  offline?: boolean;
}

/** Exit code when --device-memory is given and the plan does not fit, so scripts can branch on it. */
const doesNotFitExitCode = 3;

export function registerPlanCommand(program: Command): void {
  const command = program
    .command('plan')
    .description(
      'Estimate weights, LoRA, KV cache and activation memory before downloading a model (docs/memory-plan.md): for hf: sources only config.json (and adapter_config.json) are fetched. Takes the same model options, with the same defaults, as the commands that run the model.',
    );
  // The same options and defaults as the run commands, so a plan describes what they will load.
  addModelOptions(command, { omit: ['providers', 'threads', 'deviceIndex', 'logPlacement'] });
  command
    .addOption(new Option('--batch <n>', 'rows per batch').argParser(integerOption({ min: 1 })).default(1))
    .addOption(
      new Option('--seq <n>', 'tokens per row, prompt plus generated')
        .argParser(integerOption({ min: 1 }))
        .default(1024),
    )
    .addOption(
      new Option(
        '--activation-dtype <dtype>',
        'override the activation dtype (default: what --dtype/--compute-dtype run with; bf16 only to compare with other runtimes)',
      ).argParser(choiceOption(['fp32', 'fp16', 'bf16'] as const)),
    )
    .addOption(
      new Option('--kv-dtype <dtype>', 'KV cache (default: the activation dtype)').argParser(
        choiceOption(['fp32', 'fp16', 'bf16'] as const),
      ),
    )
    .addOption(
      new Option(
        '--capture-layers <layers>',
        'layers whose resid_post is captured: all, 0,3,5 or 2-4',
      ).argParser(parseLayerSelectionSyntax),
    )
    .addOption(
      new Option('--logits <which>', 'logits fetched for every position (all) or the last per row (last)')
        .argParser(choiceOption(['all', 'last'] as const))
        .default('all'),
    )
    .addOption(
      new Option(
        '--provider <where>',
        'where the model runs: cpu keeps up to 4 sessions sharing one copy of the weights, gpu one (each GPU session holds its own copy)',
      )
        .argParser(choiceOption(['cpu', 'gpu'] as const))
        .default('cpu'),
    )
    .addOption(
      new Option(
        '--hook-plans <n>',
        'distinct capture/steering plans in use at once (off the CPU, plans differing only in steering count once)',
      )
        .argParser(integerOption({ min: 1 }))
        .default(1),
    )
    .option(
      '--device-memory <size>',
      `device memory to check against, e.g. 80GB or 81559MiB (exit code ${doesNotFitExitCode} when it does not fit)`,
    )
    .option('--json', 'print the plan as JSON')
    .option('--offline', 'use the Hugging Face cache only (as HF_HUB_OFFLINE=1)')
    .action(runPlanCommand);
}

async function runPlanCommand(options: PlanCommandOptions): Promise<void> {
  const { assessMemoryFit, parseByteSize } = await import('@traitlens/model-runtime/internal');
  const { planMemoryForSource } = await import('@traitlens/model-runtime');
  // Parsed before any download so a typo fails fast.
  const deviceBytes = options.deviceMemory === undefined ? undefined : parseByteSize(options.deviceMemory);
  const loraProblem = describeLoraScaleProblem(options);
  if (loraProblem)
    throw new (await import('@traitlens/core')).TraitlensError('INVALID_ARGUMENT', loraProblem);
  const planned = await planMemoryForSource({
    model: options.model,
    dtype: options.dtype,
    blockSize: options.blockSize,
    zeroPoints: options.zeroPoints,
    batchSize: options.batch,
    sequenceLength: options.seq,
    logits: options.logits,
    provider: options.provider,
    hookPlans: options.hookPlans,
    loraMode: options.loraMode,
    ...(options.lora ? { lora: options.lora } : {}),
    activationDtype: planActivationDtype(options),
    ...(options.kvDtype ? { kvDtype: options.kvDtype } : {}),
    ...(options.captureLayers ? { captureLayers: options.captureLayers } : {}),
    hub: {
      offline: options.offline,
      onProgress: (event) => {
        if (event.type === 'cache-fallback')
          process.stderr.write(
            `traitlens: the Hub is unreachable; using the cached hf:${event.repo}@${event.commit.slice(0, 12)} (${event.reason})\n`,
          );
      },
    },
  });
  const fit = deviceBytes === undefined ? undefined : assessMemoryFit(planned.plan, deviceBytes);
  if (options.json) printPlanJson(options, { ...planned, fit });
  else await printPlanText(options, planned, deviceBytes);
  if (fit && !fit.fits) {
    // The verdict is already printed; the error only carries the exit code out of runCli.
    throw new CommanderError(
      doesNotFitExitCode,
      'traitlens.plan.doesNotFit',
      'the plan does not fit the device memory',
    );
  }
}

/** What the run commands compute in: fp16 weights in fp16, int8/int4 per --compute-dtype. */
function planActivationDtype(options: PlanCommandOptions): FloatDtype {
  return (
    options.activationDtype ??
    (options.dtype === 'fp16' || (options.dtype.startsWith('int') && options.computeDtype === 'fp16')
      ? 'fp16'
      : 'fp32')
  );
}

type SourceMemoryPlan = Awaited<ReturnType<typeof import('@traitlens/model-runtime').planMemoryForSource>>;

function printPlanJson(options: PlanCommandOptions, planned: SourceMemoryPlan & { fit: unknown }): void {
  const { model, lora, plan, fit } = planned;
  const source = (resolved: typeof model) => ({
    source: options.model,
    repo: resolved.repo,
    revision: resolved.revision,
    directory: resolved.directory,
  });
  process.stdout.write(
    `${JSON.stringify({ model: source(model), lora: lora ? { ...source(lora), source: options.lora } : undefined, plan, fit }, null, 2)}\n`,
  );
}

async function printPlanText(
  options: PlanCommandOptions,
  { model, lora, plan }: SourceMemoryPlan,
  deviceBytes: number | undefined,
): Promise<void> {
  const { formatMemoryPlan } = await import('@traitlens/model-runtime');
  const pinned = (label: string, name: string, resolved: typeof model) =>
    resolved.revision ? `${label} ${name} (commit ${resolved.revision.slice(0, 12)})\n` : '';
  process.stdout.write(
    `${pinned('model', options.model, model)}${lora && options.lora ? pinned('lora ', options.lora, lora) : ''}${formatMemoryPlan(plan, deviceBytes)}\n`,
  );
}
