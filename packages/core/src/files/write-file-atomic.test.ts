import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TraitlensError } from '../errors/traitlens-error';
import { mountSmallTmpfs } from './__fixtures__/small-tmpfs';
import { writeFileAtomic, writeJsonAtomic } from './write-file-atomic';

describe('writeFileAtomic', () => {
  it('writes content, creates parent folders and leaves no temporary files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'traitlens-atomic-'));
    const path = join(dir, 'a', 'b', 'file.txt');
    await writeFileAtomic(path, 'first');
    await writeFileAtomic(path, [new Uint8Array([115, 101]), new Uint8Array([99, 111, 110, 100])]);
    expect(await readFile(path, 'utf8')).toBe('second'.slice(0, 2) + 'cond');
    expect(await readdir(join(dir, 'a', 'b'))).toEqual(['file.txt']);
    await writeJsonAtomic(join(dir, 'x.json'), { a: 1 });
    expect(JSON.parse(await readFile(join(dir, 'x.json'), 'utf8'))).toEqual({ a: 1 });
  });

  it('on a full disk throws DISK_FULL, keeps the old file intact and leaves no temporary file', async () => {
    const disk = await mountSmallTmpfs('64k');
    if (disk === undefined) {
      console.warn('skipped: mounting a small tmpfs needs root on Linux');
      return;
    }
    try {
      const path = join(disk.path, 'activations.safetensors');
      await writeFileAtomic(path, 'old content');
      // One 80 kB chunk: write(2) takes what fits (a short write) and only the next call fails.
      const error = await writeFileAtomic(path, new Uint8Array(80 * 1024).fill(7)).catch((e: unknown) => e);
      expect(TraitlensError.hasCode(error, 'DISK_FULL')).toBe(true);
      expect((error as Error).message).toContain(path);
      expect((error as TraitlensError).details).toMatchObject({ path, errno: 'ENOSPC' });
      expect(await readFile(path, 'utf8')).toBe('old content');
      expect(await readdir(disk.path)).toEqual(['activations.safetensors']);
      // Many small chunks fail the same way.
      const chunks = Array.from({ length: 40 }, () => new Uint8Array(4096).fill(1));
      const second = await writeFileAtomic(join(disk.path, 'new.bin'), chunks).catch((e: unknown) => e);
      expect(TraitlensError.hasCode(second, 'DISK_FULL')).toBe(true);
      expect(await readdir(disk.path)).toEqual(['activations.safetensors']);
    } finally {
      await disk.unmount();
    }
  });

  it('maps a read-only file system to FILE_SYSTEM_ERROR naming the path', async () => {
    const disk = await mountSmallTmpfs('64k', { readOnly: true });
    if (disk === undefined) {
      console.warn('skipped: mounting a read-only tmpfs needs root on Linux');
      return;
    }
    try {
      const path = join(disk.path, 'experiment', 'summary.json');
      const error = await writeJsonAtomic(path, { a: 1 }).catch((e: unknown) => e);
      expect(TraitlensError.hasCode(error, 'FILE_SYSTEM_ERROR')).toBe(true);
      expect((error as Error).message).toContain(join(disk.path, 'experiment'));
      expect((error as Error).message).toContain('read-only');
    } finally {
      await disk.unmount();
    }
  });

  it('maps a regular file in the way of the folder (ENOTDIR/EEXIST) to FILE_SYSTEM_ERROR', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'traitlens-atomic-'));
    await writeFile(join(dir, 'plain'), 'x');
    for (const path of [join(dir, 'plain', 'out.json'), join(dir, 'plain', 'deeper', 'out.json')]) {
      const error = await writeJsonAtomic(path, {}).catch((e: unknown) => e);
      expect(TraitlensError.hasCode(error, 'FILE_SYSTEM_ERROR')).toBe(true);
      expect((error as Error).message).toMatch(/regular file|already exists/);
    }
    await mkdir(join(dir, 'folder.json'));
    const error = await writeJsonAtomic(join(dir, 'folder.json'), {}).catch((e: unknown) => e);
    expect(TraitlensError.hasCode(error, 'FILE_SYSTEM_ERROR')).toBe(true);
    expect(await readdir(dir)).toEqual(['folder.json', 'plain']);
  });
});
