import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SafetensorsFile } from '@traitlens/core';
import { describe, expect, it } from 'vitest';
import { runBinary } from './__fixtures__/cli-process';
import { useReliabilityStudy } from './__fixtures__/tiny-study';

// Read-only folders, a file where a folder should be, and a full disk: each command exits 1 with a
// message naming the path and what to do, never a stack trace, and leaves nothing half-written under a
// final name (docs/reliability.md). The tmpfs cases need root on Linux and skip elsewhere.

const setup = useReliabilityStudy();

const isRoot = process.platform === 'linux' && process.getuid?.() === 0;

async function mountTmpfs(size: string, readOnly = false): Promise<string | undefined> {
  if (!isRoot) return undefined;
  const path = await mkdtemp(join(tmpdir(), 'traitlens-cli-tmpfs-'));
  const mounted = spawnSync('mount', [
    '-t',
    'tmpfs',
    '-o',
    `size=${size}${readOnly ? ',ro' : ''}`,
    'tmpfs',
    path,
  ]);
  return mounted.status === 0 ? path : undefined;
}

function unmount(path: string): void {
  spawnSync('umount', [path]);
}

const captureArgs = (experiment: string) =>
  setup.commands.capture(experiment, { 'batch-size': undefined, 'activation-dtype': 'f32' });

async function listFiles(directory: string): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(directory, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) files.push(join(entry.parentPath, entry.name));
  }
  return files;
}

function expectCleanError(result: { code: number | null; stderr: string }, code: string, path: string): void {
  expect(result.code, result.stderr).toBe(1);
  expect(result.stderr).toContain(`error ${code}`);
  expect(result.stderr).toContain(path);
  expect(result.stderr).not.toMatch(/\n\s+at /);
  expect(result.stderr).not.toContain('unexpected error');
}

describe('file-system errors reach the user as TraitlensErrors', () => {
  it('capture into a folder under a regular file: FILE_SYSTEM_ERROR naming it', {
    timeout: 120_000,
  }, async () => {
    const root = await mkdtemp(join(tmpdir(), 'traitlens-notdir-'));
    await writeFile(join(root, 'plain-file'), 'x');
    const result = await runBinary(captureArgs(join(root, 'plain-file', 'experiment')), {
      TRAITLENS_CACHE: setup.study.cache,
    });
    expectCleanError(result, 'FILE_SYSTEM_ERROR', join(root, 'plain-file'));
  });

  it('capture and extract into a read-only file system: FILE_SYSTEM_ERROR saying read-only', {
    timeout: 120_000,
  }, async () => {
    const readOnly = await mountTmpfs('1m', true);
    if (!readOnly) {
      console.warn('skipped: mounting a read-only tmpfs needs root on Linux');
      return;
    }
    try {
      const experiment = join(readOnly, 'experiment');
      const capture = await runBinary(captureArgs(experiment), { TRAITLENS_CACHE: setup.study.cache });
      expectCleanError(capture, 'FILE_SYSTEM_ERROR', readOnly);
      expect(capture.stderr).toContain('read-only');
      const extract = await runBinary(
        setup.commands.extract(experiment, { 'max-new-tokens': 4, 'batch-size': undefined }),
        { TRAITLENS_CACHE: setup.study.cache },
      );
      expectCleanError(extract, 'FILE_SYSTEM_ERROR', readOnly);
    } finally {
      unmount(readOnly);
    }
  });

  it('capture on a full disk: DISK_FULL, no temporary file and no truncated file under a final name', {
    timeout: 300_000,
  }, async () => {
    // Six prompts x 3 layers x f32 activations need ~30 kB each; 96 kB fills after a few.
    const disk = await mountTmpfs('96k');
    if (!disk) {
      console.warn('skipped: mounting a small tmpfs needs root on Linux');
      return;
    }
    try {
      const experiment = join(disk, 'experiment');
      const result = await runBinary(captureArgs(experiment), { TRAITLENS_CACHE: setup.study.cache });
      expectCleanError(result, 'DISK_FULL', experiment);
      expect(result.stderr).toContain('disk is full');
      const files = await listFiles(experiment);
      expect(files.filter((file) => file.endsWith('.partial'))).toEqual([]);
      const safetensors = files.filter((file) => file.endsWith('.safetensors'));
      for (const file of safetensors) {
        const opened = await SafetensorsFile.open(file);
        await opened.close();
      }
      for (const file of files.filter((name) => name.endsWith('.json'))) {
        const text = await readFile(file, 'utf8');
        expect(() => JSON.parse(text), file).not.toThrow();
      }
    } finally {
      unmount(disk);
    }
  });
});
