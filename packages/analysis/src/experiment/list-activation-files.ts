import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { experimentLayout, TraitlensError } from '@traitlens/core';

/**
 * The activation files (or, with `source: 'projections'`, capture's projection files) of one variant and
 * prompt set, keyed by prompt id: the file name without `.safetensors`, as capture writes
 * `activations/<prompt_id>.safetensors` and `projections/<prompt_id>.safetensors`.
 */
export async function listActivationFiles(
  experimentRoot: string,
  variant: string,
  promptSet: string,
  source: 'activations' | 'projections' = 'activations',
): Promise<Map<string, string>> {
  const directory = experimentLayout(experimentRoot).inference(variant, promptSet)[source];
  let names: string[];
  try {
    names = await readdir(directory);
  } catch (cause) {
    throw new TraitlensError(
      'FILE_NOT_FOUND',
      `No ${source} for variant "${variant}" and prompt set "${promptSet}": ${directory} does not exist. Capture them first (traitlens capture) or check --experiment, --a/--b and --prompt-set.`,
      { cause, details: { directory, variant, promptSet } },
    );
  }
  const files = new Map<string, string>();
  // Numeric-aware order (1, 2, ..., 10, not 1, 10, 11, ..., 2): prompt ids are usually numbers.
  for (const name of names.sort(new Intl.Collator('en', { numeric: true }).compare)) {
    if (name.endsWith('.safetensors'))
      files.set(name.slice(0, -'.safetensors'.length), join(directory, name));
  }
  if (files.size === 0) {
    throw new TraitlensError(
      'INSUFFICIENT_DATA',
      `${directory} holds no .safetensors files; capture ${source} first.`,
      { details: { directory } },
    );
  }
  return files;
}
