import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';

const promptFiles = new Set(['positive.txt', 'negative.txt', 'positive.jsonl', 'negative.jsonl']);

/**
 * Every trait folder at or below `root` (a folder holding a positive or negative prompt file), sorted.
 * Hidden folders and node_modules are skipped.
 */
export async function findTraitDatasets(root: string): Promise<string[]> {
  const found: string[] = [];
  const visit = async (folder: string): Promise<void> => {
    const entries = await readdir(folder, { withFileTypes: true });
    if (entries.some((entry) => entry.isFile() && promptFiles.has(entry.name))) {
      found.push(folder);
      return;
    }
    for (const entry of entries) {
      if (entry.isDirectory() && !entry.name.startsWith('.') && entry.name !== 'node_modules')
        await visit(join(folder, entry.name));
    }
  };
  await visit(resolve(root));
  return found.sort();
}
