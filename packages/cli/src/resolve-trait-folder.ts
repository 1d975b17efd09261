import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { TraitlensError } from '@traitlens/core';

async function isDirectory(path: string): Promise<boolean> {
  return stat(path).then(
    (entry) => entry.isDirectory(),
    () => false,
  );
}

/**
 * A trait named as `extract --traits` names it, `<category>/<trait>` under the data set root; a folder
 * path is accepted too (the earlier `steer --trait <folder>` spelling).
 */
export async function resolveTraitFolder(
  trait: string,
  datasetsRoot: string,
): Promise<{ folder: string; category: string | undefined; name: string }> {
  const parts = trait.split('/').filter((part) => part.length > 0);
  if (/^[^/]+\/[^/]+$/.test(trait) && (await isDirectory(join(datasetsRoot, trait))))
    return { folder: join(datasetsRoot, trait), category: parts[0], name: parts[1]! };
  if (await isDirectory(trait))
    return {
      folder: trait,
      category: parts.length >= 2 ? parts[parts.length - 2] : undefined,
      name: parts[parts.length - 1]!,
    };
  throw new TraitlensError(
    'FILE_NOT_FOUND',
    `--trait ${trait}: no trait folder ${join(datasetsRoot, trait)} (and no folder ${trait}). Name a trait as <category>/<trait> under --datasets, e.g. alignment/sycophancy.`,
    { details: { path: join(datasetsRoot, trait) } },
  );
}
