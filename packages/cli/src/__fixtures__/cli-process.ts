import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { expect } from 'vitest';

export const repositoryRoot = join(import.meta.dirname, '..', '..', '..', '..');

/** The shipped tiny RM-sycophancy study config (a generated tiny organism, every stage). */
export const tinyStudyConfig = join(
  repositoryRoot,
  'examples',
  'rm-sycophancy',
  'experiments',
  'rm-sycophancy-tiny.yaml',
);
const bin = join(repositoryRoot, 'packages', 'cli', 'src', 'bin.ts');

export interface BinaryResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the traitlens binary in its own process (as `pnpm traitlens` does), so it can be killed.
 * `onStderr` sees the standard error collected so far after each chunk (to act once a line appears).
 */
export function runBinary(
  args: string[],
  env: Record<string, string> = {},
  settings: { onStderr?: (stderr: string) => void } = {},
): Promise<BinaryResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--conditions=@traitlens/source', '--import', 'tsx', bin, ...args],
      { cwd: repositoryRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      settings.onStderr?.(stderr);
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

const timestampField = /"(createdAt|updatedAt|completedAt)": "[^"]*"/g;
const durationField = /"(elapsedSeconds|seconds)": [0-9.e+-]+/g;

/**
 * Every file under `directory` by relative path, as a SHA-256 of its bytes. In JSON files the values of
 * the documented timestamp and duration fields (createdAt, updatedAt, completedAt, elapsedSeconds,
 * seconds) are blanked first; nothing else is normalised, so equal snapshots mean byte-identical outputs.
 */
export async function snapshotDirectory(directory: string): Promise<Record<string, string>> {
  const snapshot: Record<string, string> = {};
  const walk = async (folder: string): Promise<void> => {
    for (const entry of await readdir(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) await walk(path);
      else {
        let bytes: Buffer | string = await readFile(path);
        if (entry.name.endsWith('.json'))
          bytes = bytes
            .toString('utf8')
            .replace(timestampField, '"$1": ""')
            .replace(durationField, '"$1": 0');
        snapshot[relative(directory, path)] = createHash('sha256').update(bytes).digest('hex');
      }
    }
  };
  await walk(directory);
  return Object.fromEntries(Object.entries(snapshot).sort(([a], [b]) => a.localeCompare(b)));
}

/** The run exited 0 (its standard error is the failure message). */
export function expectSuccess(result: BinaryResult): void {
  expect(result.code, result.stderr).toBe(0);
}

/** A command option's value: a list is joined with commas; `undefined` leaves the option out. */
export type OptionValue = string | number | readonly string[] | undefined;

/**
 * `traitlens <command> --<name> <value> ...` from an options object (names as on the command line), so
 * a test states a stage's options once and varies them by spreading: `{ ...options, 'batch-size': 4 }`.
 */
export function commandArgs(command: string, options: Record<string, OptionValue>): string[] {
  const args = [command];
  for (const [name, value] of Object.entries(options)) {
    if (value === undefined) continue;
    args.push(`--${name}`, typeof value === 'object' ? value.join(',') : String(value));
  }
  return args;
}
