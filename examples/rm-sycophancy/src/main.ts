import { parseArgs } from 'node:util';
import { TraitlensError } from '@traitlens/core';
import { parseByteSize } from '@traitlens/model-runtime';
import { loadExperiment } from './load-experiment';
import { type StudyStage, studyStages } from './pipeline-state';
import { planStudyMemory } from './plan-study-memory';
import { runStudy } from './run-study';

const usage = `Usage: pnpm run run <experiment.yaml> [options]

Runs the RM-sycophancy study as resumable stages: ${studyStages.join(' -> ')}.

Options:
  --only <stages>          run only these stages, e.g. capture,replay (earlier ones must have finished)
  --from <stage>           run this stage and every later one
  --force <stages|all>     redo these stages even where they finished with the same settings
  --output <dir>           experiment folder (default: <config folder>/<name>)
  --plan                   print the memory plan of every model load and exit (downloads only config files)
  --device-memory <size>   with --plan: the accelerator's memory, e.g. 80GB; exit code 3 when a load does not fit
  --help`;

function parseStages(text: string, option: string): StudyStage[] {
  const names = text
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  for (const name of names) {
    if (!(studyStages as readonly string[]).includes(name))
      throw new TraitlensError(
        'INVALID_ARGUMENT',
        `${option}: "${name}" is not a stage; use ${studyStages.join(', ')}.`,
      );
  }
  return names as StudyStage[];
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      only: { type: 'string' },
      from: { type: 'string' },
      force: { type: 'string' },
      output: { type: 'string' },
      plan: { type: 'boolean' },
      'device-memory': { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help || positionals.length !== 1) {
    process.stdout.write(`${usage}\n`);
    return values.help ? 0 : 2;
  }
  const experiment = await loadExperiment(positionals[0]!, values.output ? { output: values.output } : {});
  if (values.plan) {
    const deviceBytes = values['device-memory'] ? parseByteSize(values['device-memory']) : undefined;
    const plans = await planStudyMemory(experiment, deviceBytes);
    for (const plan of plans) process.stdout.write(`== ${plan.title}\n${plan.text}\n\n`);
    return plans.some((plan) => plan.fits === false) ? 3 : 0;
  }
  let stages: StudyStage[] | undefined;
  if (values.only) stages = parseStages(values.only, '--only');
  if (values.from) {
    const [from] = parseStages(values.from, '--from');
    stages = studyStages
      .slice(studyStages.indexOf(from!))
      .filter((stage) => !stages || stages.includes(stage));
  }
  const force = values.force === 'all' ? true : values.force ? parseStages(values.force, '--force') : false;
  const run = await runStudy(experiment, { ...(stages ? { stages } : {}), force });
  process.stdout.write(
    `${experiment.config.name}: ran ${run.ran.join(', ') || 'nothing'}${run.skipped.length > 0 ? `; skipped ${run.skipped.join(', ')}` : ''} in ${run.seconds.toFixed(1)} s\nresults: ${experiment.directory}\n`,
  );
  return 0;
}

try {
  process.exitCode = await main();
} catch (error) {
  if (TraitlensError.isInstance(error)) {
    process.stderr.write(`error [${error.code}]: ${error.message}\n`);
    process.exitCode = 1;
  } else throw error;
}
