import { lstat, readdir, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { toFileSystemError } from './file-system-error';
import { hostTag, isPidRunning } from './process-identity';

/**
 * The temporary sibling name writeFileAtomic (and every staged write) uses:
 * `<name>.<pid>.<host tag>.<random>.partial`, so a later run can tell whether the writer still lives.
 */
export function temporaryFileName(name: string, random: string): string {
  return `${name}.${process.pid}.${hostTag()}.${random}.partial`;
}

/** The owner parsed from a temporary file name, or undefined when the name is not one. */
export function parseTemporaryFileName(
  name: string,
): { target: string; pid: number; hostTag: string | undefined } | undefined {
  const withHost = /^(.+)\.(\d+)\.([0-9a-f]{8})\.([0-9a-f]+)\.partial$/.exec(name);
  if (withHost) return { target: withHost[1] as string, pid: Number(withHost[2]), hostTag: withHost[3] };
  // Without a host tag (older files, and writers that make their own staging names): `<name>.<pid>.<random>.partial`.
  const withoutHost = /^(.+)\.(\d+)\.([0-9a-z]{4,})\.partial$/.exec(name);
  if (withoutHost)
    return { target: withoutHost[1] as string, pid: Number(withoutHost[2]), hostTag: undefined };
  return undefined;
}

/** Options of {@link removeStaleTemporaryFiles}. */
export interface RemoveStaleTemporaryFilesOptions {
  /** Also look in sub-folders. Default false. */
  recursive?: boolean;
  /**
   * A temporary file from another host (a shared network folder), whose writer cannot be checked, is
   * removed once it is this old. Default 24 hours.
   */
  foreignAfterMs?: number;
}

/**
 * Removes temporary files (`*.partial`, see {@link temporaryFileName}) left in `directory` by writers
 * that died (killed, out of memory, power loss): those whose process no longer runs on this host, and
 * those from another host older than `foreignAfterMs`. Files of live writers are kept. Returns the
 * removed paths. A missing folder is not an error.
 */
export async function removeStaleTemporaryFiles(
  directory: string,
  options: RemoveStaleTemporaryFilesOptions = {},
): Promise<string[]> {
  const foreignAfterMs = options.foreignAfterMs ?? 24 * 3600 * 1000;
  const ownTag = hostTag(hostname());
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(directory, { withFileTypes: true });
  } catch (error) {
    if (
      (error as NodeJS.ErrnoException).code === 'ENOENT' ||
      (error as NodeJS.ErrnoException).code === 'ENOTDIR'
    ) {
      return [];
    }
    throw toFileSystemError(error, { path: directory, action: 'list' });
  }
  const removed: string[] = [];
  for (const entry of entries) {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) {
      if (options.recursive) removed.push(...(await removeStaleTemporaryFiles(path, options)));
      continue;
    }
    const owner = parseTemporaryFileName(entry.name);
    if (owner === undefined) continue;
    let stale: boolean;
    if (owner.hostTag === undefined || owner.hostTag === ownTag) {
      stale = owner.pid !== process.pid && !isPidRunning(owner.pid);
    } else {
      const info = await lstat(path).catch(() => undefined);
      stale = info !== undefined && Date.now() - info.mtimeMs > foreignAfterMs;
    }
    if (!stale) continue;
    try {
      await rm(path, { force: true });
      removed.push(path);
    } catch (error) {
      throw toFileSystemError(error, { path, action: 'remove the stale temporary file' });
    }
  }
  return removed;
}
