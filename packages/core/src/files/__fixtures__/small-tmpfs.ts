import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Mounts a tmpfs of `size` (mount(8) syntax, e.g. '64k') for a full-disk or read-only test. Needs root
 * on Linux; returns undefined elsewhere so the test can skip with a message.
 */
export async function mountSmallTmpfs(
  size: string,
  options: { readOnly?: boolean } = {},
): Promise<{ path: string; unmount(): Promise<void> } | undefined> {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return undefined;
  const path = await mkdtemp(join(tmpdir(), 'traitlens-tmpfs-'));
  const flags = `size=${size}${options.readOnly ? ',ro' : ''}`;
  const result = spawnSync('mount', ['-t', 'tmpfs', '-o', flags, 'tmpfs', path]);
  if (result.status !== 0) {
    await rm(path, { recursive: true, force: true });
    return undefined;
  }
  return {
    path,
    async unmount() {
      spawnSync('umount', [path]);
      await rm(path, { recursive: true, force: true });
    },
  };
}
