import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { toFileSystemError } from './file-system-error';

/**
 * Creates a folder and its parents (like `mkdir -p`); on failure throws a TraitlensError naming the
 * folder that could not be made and why. Node's recursive mkdir reports a read-only file system as
 * ENOENT, so on failure the parents are made one at a time to find the real cause.
 */
export async function ensureDirectory(path: string): Promise<void> {
  try {
    await mkdir(path, { recursive: true });
    return;
  } catch (error) {
    throw toFileSystemError(await diagnoseMkdir(resolve(path), error), { path, action: 'create the folder' });
  }
}

async function diagnoseMkdir(path: string, original: unknown): Promise<unknown> {
  const chain: string[] = [];
  for (let current = path; ; current = dirname(current)) {
    chain.unshift(current);
    if (dirname(current) === current) break;
  }
  for (const folder of chain) {
    try {
      await mkdir(folder);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') continue;
      return error;
    }
  }
  return original;
}
