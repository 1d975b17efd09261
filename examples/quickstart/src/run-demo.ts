/**
 * The offline end-to-end demo (README quick start): the whole study pipeline on the real, tiny,
 * pretrained stories260k Llama, through the same CLI commands a researcher runs on a 70B model.
 *
 *   pnpm demo                      (from the repository root)
 *   TRAITLENS_DEMO_EXPERIMENT=dir  (where to write; default experiments/quickstart)
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { runCli } from '@traitlens/cli';
import { loadModel } from '@traitlens/model-runtime';
import { plantToyObjective } from './plant-toy-objective';

const repository = resolve(import.meta.dirname, '../../..');
const modelDirectory = resolve(repository, '../shared/models/stories260k/hf');
const experiment = resolve(
  process.env.TRAITLENS_DEMO_EXPERIMENT ?? join(repository, 'experiments/quickstart'),
);
const datasets = join(repository, 'datasets/traits');
const promptSet = join(repository, 'datasets/inference/tinystories-demo.json');

async function step(title: string, argv: string[]): Promise<void> {
  process.stderr.write(
    `\n=== ${title}\n$ traitlens ${argv.map((arg) => (arg.includes(' ') ? `"${arg}"` : arg)).join(' ')}\n`,
  );
  const code = await runCli(argv);
  if (code !== 0)
    throw new Error(`"traitlens ${argv[0]}" failed with exit code ${code}; see the message above.`);
}

export async function runDemo(): Promise<{ experiment: string; report: string }> {
  if (!existsSync(join(modelDirectory, 'model.safetensors'))) {
    throw new Error(
      `The demo needs the shared stories260k model at ${modelDirectory} (../shared beside the repository).`,
    );
  }
  process.stderr.write(`traitlens demo on stories260k -> ${experiment}\n`);

  await step('1. Extract trait vectors (every method, every layer) and evaluate them on held-out prompts', [
    'extract',
    '--model',
    modelDirectory,
    '--traits',
    'tinystories/happiness,tinystories/kindness',
    '--experiment',
    experiment,
    '--datasets',
    datasets,
    '--position',
    'prompt[-1]',
  ]);
  const vectors = join(experiment, 'extraction/tinystories/happiness/vectors/mean_diff.safetensors');

  await step('2. Prove the happiness vector by steering (adaptive coefficient search, toy lexicon judge)', [
    'steer',
    '--model',
    modelDirectory,
    '--trait',
    'tinystories/happiness',
    '--datasets',
    datasets,
    '--vectors',
    vectors,
    '--layers',
    '1-3',
    '--judge',
    'lexicon',
    '--steps',
    '5',
    '--max-new-tokens',
    '48',
    '--experiment',
    experiment,
  ]);

  process.stderr.write(
    '\n=== 3. Plant a toy hidden objective: a rank-1 LoRA that nudges layer 2 toward happiness\n',
  );
  const model = await loadModel(modelDirectory, {});
  const prompts = JSON.parse(await readFile(promptSet, 'utf8')) as { prompts: Array<{ text: string }> };
  const adapter = await plantToyObjective({
    model,
    modelDirectory,
    vectorFile: vectors,
    layer: 2,
    strength: 0.5,
    texts: prompts.prompts.map((prompt) => prompt.text),
    outputDirectory: join(experiment, 'toy-lora'),
  });
  await model.dispose();
  process.stderr.write(`wrote ${adapter}\n`);

  await step(
    '4. Capture: generate with the LoRA variant, replay the same token ids through the clean model',
    [
      'capture',
      '--experiment',
      experiment,
      '--prompt-set',
      promptSet,
      '--model',
      modelDirectory,
      '--lora',
      adapter,
      '--variant',
      'lora',
      '--replay-variant',
      'clean',
      '--max-new-tokens',
      '48',
    ],
  );

  await step('5. Analyse: model diff per trait and layer (LoRA vs clean on identical tokens)', [
    'analyze',
    '--experiment',
    experiment,
    '--variant',
    'lora',
    '--baseline-variant',
    'clean',
    '--prompt-set',
    'tinystories-demo',
  ]);

  await step('6. Report: a self-contained HTML report', ['report', '--experiment', experiment]);
  const report = join(experiment, 'report/index.html');
  process.stderr.write(`\nDone. Open ${report} in a browser (works offline).\n`);
  return { experiment, report };
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  runDemo().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
