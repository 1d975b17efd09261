import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The folder of the trait data sets, `<category>/<trait>/` (positive/negative prompts, definition.txt,
 * steering.json): pass it where traitlens takes a data set root (`--datasets`, `stages.extract.datasets`).
 * Both src/ and dist/ sit one level below the package root, next to `traits/` and `inference/`.
 */
export const traitDatasetsDirectory: string = fileURLToPath(new URL('../traits', import.meta.url));

/** The folder of the inference prompt sets (`train_100.json`, `test_150.json`, ...). */
export const promptSetsDirectory: string = fileURLToPath(new URL('../inference', import.meta.url));

/** The folder of one trait data set, e.g. `traitDatasetDirectory('alignment/sycophancy')`, or undefined. */
export function traitDatasetDirectory(name: string): string | undefined {
  if (!/^[\w.-]+\/[\w.-]+$/.test(name)) return undefined;
  const directory = fileURLToPath(new URL(`../traits/${name}`, import.meta.url));
  return existsSync(directory) ? directory : undefined;
}

/** The file of one prompt set by name, e.g. `promptSetFile('train_100')`, or undefined. */
export function promptSetFile(name: string): string | undefined {
  if (!/^[\w.-]+$/.test(name)) return undefined;
  const file = fileURLToPath(new URL(`../inference/${name}.json`, import.meta.url));
  return existsSync(file) ? file : undefined;
}
