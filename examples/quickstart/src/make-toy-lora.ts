/**
 * Generates the demo's committed toy LoRA (examples/quickstart/toy-lora/) once; `pnpm demo` only reads it.
 *
 *   pnpm traitlens run examples/quickstart/experiments/quickstart.yaml --only extract
 *   pnpm --filter @traitlens/example-quickstart make-toy-lora [<experiment folder>]
 *
 * It plants a rank-1 adapter on layer 2's down_proj that pushes along the happiness mean_diff vector the
 * extract stage wrote (default experiment folder: experiments/quickstart). Rerun it only when the
 * extraction settings or the model change; commit the two files it writes.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { loadModel } from '@traitlens/model-runtime';
import { plantToyObjective } from './plant-toy-objective';

const repository = resolve(import.meta.dirname, '../../..');
const modelDirectory = resolve(repository, '../shared/models/stories260k/hf');

async function main(): Promise<void> {
  const experiment = resolve(process.argv[2] ?? join(repository, 'experiments/quickstart'));
  const vectorFile = join(experiment, 'extraction/tinystories/happiness/vectors/mean_diff.safetensors');
  const prompts = JSON.parse(
    await readFile(join(repository, 'datasets/inference/tinystories-demo.json'), 'utf8'),
  ) as { prompts: Array<{ text: string }> };
  const model = await loadModel(modelDirectory, {});
  try {
    const adapter = await plantToyObjective({
      model,
      modelDirectory,
      vectorFile,
      layer: 2,
      strength: 0.5,
      texts: prompts.prompts.map((prompt) => prompt.text),
      outputDirectory: resolve(import.meta.dirname, '../toy-lora'),
    });
    process.stderr.write(`wrote ${adapter}\n`);
  } finally {
    await model.dispose();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
