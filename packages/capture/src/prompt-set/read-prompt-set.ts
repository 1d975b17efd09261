import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';
import { TraitlensError } from '@traitlens/core';
import { isSafeFileName, parsePromptSet } from './parse-prompt-set';
import type { PromptSet } from './prompt-set';

/** Reads and validates a prompt-set JSON file; its id is the file name without `.json` unless given. */
export async function readPromptSet(path: string, options: { id?: string } = {}): Promise<PromptSet> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new TraitlensError('FILE_NOT_FOUND', `Prompt set file not found: ${path}.`, {
      cause,
      details: { file: path },
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new TraitlensError(
      'INVALID_DATASET',
      `${path} is not valid JSON (${cause instanceof Error ? cause.message : String(cause)}).`,
      { cause, details: { file: path } },
    );
  }
  return parsePromptSet(value, { id: options.id ?? basename(path).replace(/\.json$/i, ''), source: path });
}

/**
 * The folders searched for a prompt set given by name: `<cwd>/datasets/inference`, then the
 * `datasets/inference` folder of the traitlens checkout this package runs from (found by walking up
 * from this file), so `train_100` works from any directory of a clone, then the installed
 * `@traitlens/datasets` package's prompt sets.
 */
export function defaultPromptSetDirectories(): string[] {
  const directories = [resolve('datasets', 'inference')];
  let current = import.meta.dirname;
  for (;;) {
    const candidate = join(current, 'datasets', 'inference');
    if (existsSync(candidate)) {
      if (!directories.includes(candidate)) directories.push(candidate);
      break;
    }
    const parent = dirname(current);
    if (parent === current) break;
    current = parent;
  }
  // Installed from npm: the prompt sets of the @traitlens/datasets package.
  try {
    const manifest = createRequire(import.meta.url).resolve('@traitlens/datasets/package.json');
    const candidate = join(dirname(manifest), 'inference');
    if (!directories.includes(candidate)) directories.push(candidate);
  } catch {
    // Not installed: the folders above are all there is.
  }
  return directories;
}

export interface ResolvePromptSetOptions {
  /** Folders to look in for a name (default: `defaultPromptSetDirectories()`). */
  directories?: readonly string[] | undefined;
}

function looksLikePath(reference: string): boolean {
  return /\.json$/i.test(reference) || reference.includes('/') || reference.includes('\\');
}

/**
 * A prompt set given as a file path (`anything.json`, `dir/set.json`) or a name (`train_100`), looked up
 * as `<directory>/<name>.json` in the prompt-set folders. An unknown name lists the names available.
 */
export async function resolvePromptSet(
  reference: string,
  options: ResolvePromptSetOptions = {},
): Promise<PromptSet> {
  if (looksLikePath(reference) || existsSync(reference)) return readPromptSet(reference);
  if (!isSafeFileName(reference)) {
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      `"${reference}" is neither a prompt set file (.json) nor a prompt set name (letters, digits, _, -, .).`,
      { details: { value: reference } },
    );
  }
  const directories = options.directories ?? defaultPromptSetDirectories();
  for (const directory of directories) {
    const path = join(directory, `${reference}.json`);
    if (existsSync(path)) return readPromptSet(path);
  }
  const available = new Set<string>();
  for (const directory of directories) {
    try {
      for (const name of await readdir(directory))
        if (name.endsWith('.json')) available.add(name.slice(0, -'.json'.length));
    } catch {
      // A folder that does not exist simply offers no names.
    }
  }
  throw new TraitlensError(
    'FILE_NOT_FOUND',
    `No prompt set named "${reference}" in ${directories.join(', ')}. ${
      available.size > 0
        ? `Available: ${[...available].sort().join(', ')}.`
        : 'No prompt sets were found there.'
    } Pass a name from that list or the path of a .json file.`,
    { details: { name: reference, directories: [...directories] } },
  );
}

/** The first `limit` prompts of a set (the set itself when `limit` is undefined). */
export function limitPromptSet(set: PromptSet, limit: number | undefined): PromptSet {
  if (limit === undefined) return set;
  if (!Number.isInteger(limit) || limit <= 0)
    throw new TraitlensError('INVALID_ARGUMENT', `limit must be a positive integer (got ${limit}).`, {
      details: { limit },
    });
  return { ...set, prompts: set.prompts.slice(0, limit) };
}
