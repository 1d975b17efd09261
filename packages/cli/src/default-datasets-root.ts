import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * Where `--datasets` looks by default: `datasets/traits` of the working directory (a traitlens checkout),
 * else the trait folder of the installed `@traitlens/datasets` package, so `npx traitlens extract --traits
 * alignment/sycophancy` finds the shipped data sets from any directory.
 */
export function defaultDatasetsRoot(): string {
  if (existsSync(join('datasets', 'traits'))) return join('datasets', 'traits');
  try {
    const manifest = createRequire(import.meta.url).resolve('@traitlens/datasets/package.json');
    return join(dirname(manifest), 'traits');
  } catch {
    return join('datasets', 'traits');
  }
}
