import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeJsonAtomic } from '@traitlens/core';

/**
 * Judgements on disk, one small JSON file per key, so a re-run (or a resumed search) asks the judge
 * nothing it has been asked before. Files are written atomically: a crash never leaves a torn entry.
 */
export class JudgeCache<Entry> {
  readonly directory: string;

  constructor(directory: string) {
    this.directory = directory;
  }

  /** A stable key: the SHA-256 of the JSON of `parts` (e.g. model and prompt). */
  static key(parts: unknown): string {
    return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
  }

  async get(key: string): Promise<Entry | undefined> {
    let text: string;
    try {
      text = await readFile(this.pathOf(key), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    try {
      return (JSON.parse(text) as { entry: Entry }).entry;
    } catch {
      // An unreadable entry is treated as missing: the judge is asked again and the entry rewritten.
      return undefined;
    }
  }

  async set(key: string, entry: Entry): Promise<void> {
    await writeJsonAtomic(this.pathOf(key), { key, entry });
  }

  private pathOf(key: string): string {
    return join(this.directory, key.slice(0, 2), `${key}.json`);
  }
}
