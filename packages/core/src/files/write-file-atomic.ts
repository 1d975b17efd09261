import { randomBytes } from 'node:crypto';
import { type FileHandle, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ensureDirectory } from './ensure-directory';
import { toFileSystemError } from './file-system-error';
import { temporaryFileName } from './temporary-file-name';

/** Options of {@link writeFileAtomic}. */
export interface WriteFileAtomicOptions {
  /**
   * Flush the data (and the folder entry) to the device before returning, so a power loss cannot leave an
   * empty file under the final name. Default true; tests and caches may turn it off for speed.
   */
  durable?: boolean;
}

/**
 * Writes a file so that readers see either the old content or the new, never a torn one: the data goes to
 * a temporary sibling named after this process (`<name>.<pid>.<host>.<random>.partial`, so a later run can
 * tell a dead writer's leftovers, see removeStaleTemporaryFiles), every byte is written (a short write
 * is continued; a full disk is an error), flushed, then renamed over the target (atomic on one file system).
 * On any failure the temporary file is removed and a TraitlensError naming the final path is thrown
 * (`DISK_FULL` for ENOSPC, `FILE_SYSTEM_ERROR` for a read-only folder, missing permission, a file where a
 * folder should be, ...).
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array | readonly Uint8Array[],
  options: WriteFileAtomicOptions = {},
): Promise<void> {
  const durable = options.durable ?? true;
  await ensureDirectory(dirname(path));
  const temporaryPath = join(
    dirname(path),
    temporaryFileName(basename(path), randomBytes(4).toString('hex')),
  );
  let handle: FileHandle | undefined;
  try {
    handle = await open(temporaryPath, 'wx');
    const chunks =
      typeof data === 'string' ? [Buffer.from(data, 'utf8')] : data instanceof Uint8Array ? [data] : data;
    for (const chunk of chunks) await writeFully(handle, chunk);
    if (durable) await handle.sync();
    await handle.close();
    handle = undefined;
    killPoint(path, 'before-rename');
    await rename(temporaryPath, path);
  } catch (error) {
    await handle?.close().catch(() => undefined);
    await rm(temporaryPath, { force: true }).catch(() => undefined);
    throw toFileSystemError(error, { path, action: 'write' });
  }
  if (durable) await syncDirectory(dirname(path));
  killPoint(path, 'after-rename');
}

let atomicWrites = 0;

/**
 * Fault injection for the kill-and-resume tests (docs/reliability.md): with
 * `TRAITLENS_TEST_KILL_AT_WRITE=<n>[:before-rename]` the process kills itself with SIGKILL at its n-th
 * atomic write under `TRAITLENS_TEST_KILL_UNDER` (a folder; default: every write), either once the file
 * is complete under its final name or (before-rename) while only its temporary file exists. A real
 * kill -9, at a reproducible point; unset, this costs one environment lookup per write.
 */
function killPoint(path: string, moment: 'before-rename' | 'after-rename'): void {
  const spec = process.env.TRAITLENS_TEST_KILL_AT_WRITE;
  if (!spec) return;
  const under = process.env.TRAITLENS_TEST_KILL_UNDER;
  if (under && !path.startsWith(under)) return;
  const [count, when = 'after-rename'] = spec.split(':');
  if (when !== moment) return;
  atomicWrites += 1;
  if (atomicWrites === Number(count)) process.kill(process.pid, 'SIGKILL');
}

/** Atomically writes pretty-printed JSON with a trailing newline. */
export async function writeJsonAtomic(
  path: string,
  value: unknown,
  options: WriteFileAtomicOptions = {},
): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`, options);
}

/**
 * `FileHandle.write` makes one write(2) call, which may write fewer bytes than asked (a nearly full disk
 * accepts what fits); keep going until every byte is down, so the next call reports ENOSPC.
 */
async function writeFully(handle: FileHandle, chunk: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < chunk.byteLength) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.byteLength - offset);
    if (bytesWritten <= 0) {
      throw Object.assign(new Error('write made no progress'), { code: 'ENOSPC' });
    }
    offset += bytesWritten;
  }
}

/** Makes the rename itself durable; some file systems refuse fsync on a folder, which is harmless. */
async function syncDirectory(directory: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(directory, 'r');
    await handle.sync();
  } catch {
    // Not supported here (some network and Windows file systems); the data itself was flushed.
  } finally {
    await handle?.close().catch(() => undefined);
  }
}
