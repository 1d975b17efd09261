import { readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** A trait folder of an experiment: `extraction/<category>/<trait>/`. */
export interface ExtractedTrait {
  category: string;
  trait: string;
}

/**
 * Every `extraction/<category>/<trait>` folder of an experiment, sorted by category then trait; an
 * experiment without an extraction folder (or an unreadable one) has none.
 */
export async function listExtractedTraits(experimentRoot: string): Promise<ExtractedTrait[]> {
  const root = join(experimentRoot, 'extraction');
  const found: ExtractedTrait[] = [];
  for (const category of await listDirectories(root))
    for (const trait of await listDirectories(join(root, category))) found.push({ category, trait });
  return found;
}

async function listDirectories(path: string): Promise<string[]> {
  try {
    return (await readdir(path, { withFileTypes: true }))
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name)
      .sort();
  } catch {
    return [];
  }
}
