import { type Command, CommanderError, InvalidArgumentError } from 'commander';
import { addShardOption, resolveCliShard } from '../shard-option';
import { lockWaitOption, toLockWaitMs } from '../shared-options';

const stages = [
  'extract',
  'steer',
  'capture',
  'replay',
  'label',
  'intervene',
  'predictivity',
  'analyze',
  'report',
] as const;
type Stage = (typeof stages)[number];

interface RunCommandOptions {
  plan?: boolean;
  deviceMemory?: string;
  only?: Stage[];
  from?: Stage;
  force?: Stage[] | true;
  output?: string;
  shard?: string;
  lockWait: number;
}

function parseStageList(value: string): Stage[] {
  const names = value
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  const wrong = names.filter((name) => !(stages as readonly string[]).includes(name));
  if (names.length === 0 || wrong.length > 0)
    throw new InvalidArgumentError(`Allowed: a comma-separated list of ${stages.join(', ')}.`);
  return names as Stage[];
}

function parseStage(value: string): Stage {
  if (!(stages as readonly string[]).includes(value))
    throw new InvalidArgumentError(`Allowed: ${stages.join(', ')}.`);
  return value as Stage;
}

function parseForce(value: string): Stage[] | true {
  return value === 'all' ? true : parseStageList(value);
}

export function registerRunCommand(program: Command): void {
  const command = program
    .command('run')
    .description(
      `Run a study from one experiment YAML file as resumable stages (${stages.join(' -> ')}), one model in memory at a time. A stage that finished with the same settings is skipped without loading a model; run the same command again after an interruption. The config, data sets, prompt sets, item files and the judge's API key are checked before any model loads; long steps show progress with an ETA (bars on a terminal, a line per tenth and at least every 30 s in a log). Config reference: docs/study.md.`,
    )
    .argument('<experiment.yaml>', 'the experiment config (paths in it are relative to the file)')
    .option(
      '--only <stages>',
      'run only these stages, e.g. capture,replay (earlier ones must have finished)',
      parseStageList,
    )
    .option('--from <stage>', 'run this stage and every later one', parseStage)
    .option(
      '--force <stages|all>',
      'redo these stages even where they finished with the same settings',
      parseForce,
    )
    .option('--output <dir>', "experiment folder (default: <config folder>/<name>, or the config's output)")
    .option('--plan', 'print the memory plan of every model load and exit (downloads only config files)')
    .option(
      '--device-memory <size>',
      'with --plan: the accelerator memory, e.g. 80GB; exit code 3 when a load does not fit',
    )
    .addOption(lockWaitOption());
  // Sharded runs do extract, steer, capture and replay only; see docs/scale-out.md.
  addShardOption(command).action(async (file: string, options: RunCommandOptions) => {
    const code = await runStudyCommand(file, options);
    // Exit code 3: a planned load does not fit the device (the plan itself was printed).
    if (code !== 0) throw new CommanderError(code, 'traitlens.plan-does-not-fit', '');
  });
}

async function runStudyCommand(file: string, options: RunCommandOptions): Promise<number> {
  const [study, runtime, { createProgressDisplay }, { relative }] = await Promise.all([
    import('@traitlens/study'),
    import('@traitlens/model-runtime/internal'),
    import('../progress-display'),
    import('node:path'),
  ]);
  // Everything cheap is checked before a model loads: the config (every field), the device memory value.
  const deviceBytes = options.deviceMemory ? runtime.parseByteSize(options.deviceMemory) : undefined;
  const experiment = await study.loadExperiment(file, options.output ? { output: options.output } : {});
  if (options.plan) {
    const plans = await study.planStudyMemory(experiment, deviceBytes);
    for (const plan of plans) process.stdout.write(`== ${plan.title}\n${plan.text}\n\n`);
    return plans.some((plan) => plan.fits === false) ? 3 : 0;
  }
  let selected: Stage[] | undefined = options.only;
  if (options.from) {
    const later = stages.slice(stages.indexOf(options.from));
    selected = later.filter((stage) => !selected || selected.includes(stage));
  }
  const shard = await resolveCliShard(options.shard);
  // Bars with an ETA on a terminal; in a log file, a line per tenth of each step and at least every 30 s.
  const display = createProgressDisplay();
  let run: Awaited<ReturnType<typeof study.runStudy>>;
  try {
    run = await study.runStudy(experiment, {
      stages: selected,
      shard,
      force: options.force ?? false,
      log: (line) => display.log(line),
      progress: display,
      lockWaitMs: options.lockWait > 0 ? toLockWaitMs(options.lockWait) : undefined,
    });
  } finally {
    display.stop();
  }
  const where = relative(process.cwd(), experiment.directory) || '.';
  process.stdout.write(
    `${experiment.config.name}: ran ${run.ran.join(', ') || 'nothing'}${run.skipped.length > 0 ? `; skipped ${run.skipped.join(', ')}` : ''} in ${run.seconds.toFixed(1)} s\nresults: ${where}\n`,
  );
  return 0;
}
