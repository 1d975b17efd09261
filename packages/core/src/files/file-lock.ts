import { randomBytes } from 'node:crypto';
import { readFileSync, unlinkSync } from 'node:fs';
import { link, readFile, rm, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { TraitlensError } from '../errors/traitlens-error';
import { ensureDirectory } from './ensure-directory';
import { toFileSystemError } from './file-system-error';
import { currentProcessIdentity, type ProcessIdentity, processState } from './process-identity';

/** What a lock file holds (JSON), so a waiting process can say who holds it and decide if it is stale. */
export interface FileLockOwner extends ProcessIdentity {
  /** What the holder is doing, for messages ("extract alignment/sycophancy"). */
  purpose: string;
  /** When the lock was taken (ISO 8601). */
  acquiredAt: string;
  /** Random token: release removes the lock only while it still holds this token. */
  token: string;
}

/** Options of {@link acquireFileLock}. */
export interface AcquireFileLockOptions {
  /** What this process is doing, shown to a process that finds the lock held. */
  purpose: string;
  /**
   * How long to wait for a live holder before giving up with LOCK_HELD, in milliseconds. Default 0:
   * refuse at once. Waits are bounded; pass a large number to wait longer, never forever.
   */
  waitMs?: number | undefined;
  /** How often to look again while waiting. Default 250 ms. */
  pollMs?: number | undefined;
  /**
   * A lock held by a process on another host (a shared network folder) cannot be checked directly; the
   * holder refreshes the lock file's time every `heartbeatMs`, and a lock not refreshed for `staleAfterMs`
   * is taken over. Defaults 10 s and 10 minutes (long enough for a forward pass that blocks the event
   * loop, and so the heartbeat, of a large model).
   */
  heartbeatMs?: number | undefined;
  staleAfterMs?: number | undefined;
  /** Called once when the lock is held by a live process and this call starts waiting. */
  onWait?: ((owner: FileLockOwner | undefined) => void) | undefined;
}

/** A held lock. Release it (or let the process exit: the lock file is removed on a normal exit). */
export interface FileLock {
  readonly path: string;
  readonly owner: FileLockOwner;
  /** Removes the lock file if this process still holds it. Safe to call twice. */
  release(): Promise<void>;
}

const heldLocks = new Map<string, FileLockOwner>();
let exitHookInstalled = false;

/**
 * Takes an exclusive lock on a resource by creating `path` (for example `<stage folder>/.lock`). The lock
 * survives nothing but its holder: a lock whose holder died (killed, crashed, power loss) is detected by
 * pid, process start time and host name, or on another host by a stale heartbeat, and taken over. While a
 * live process holds it, this waits up to `waitMs` and then throws `LOCK_HELD`, naming the holder (pid,
 * host, purpose, since when) and the lock file.
 *
 * The lock file is created complete under its name in one step (written to a private file, then
 * hard-linked, which fails if the name exists), so a reader never sees a half-written owner.
 */
export async function acquireFileLock(path: string, options: AcquireFileLockOptions): Promise<FileLock> {
  const waitMs = options.waitMs ?? 0;
  const pollMs = options.pollMs ?? 250;
  const heartbeatMs = options.heartbeatMs ?? 10_000;
  const staleAfterMs = options.staleAfterMs ?? 600_000;
  const deadline = Date.now() + waitMs;
  const owner: FileLockOwner = {
    ...currentProcessIdentity(),
    purpose: options.purpose,
    acquiredAt: new Date().toISOString(),
    token: randomBytes(8).toString('hex'),
  };
  await ensureDirectory(dirname(path));
  let waited = false;
  for (;;) {
    if (await tryCreateLockFile(path, owner)) break;
    const holder = await readLockOwner(path);
    if (holder === 'missing') continue;
    if (isStale(holder, await lockAge(path), staleAfterMs)) {
      await breakStaleLock(path, holder);
      continue;
    }
    const reported = holder === 'unreadable' ? undefined : holder;
    if (Date.now() >= deadline) throw lockHeldError(path, reported, waitMs);
    if (!waited) {
      waited = true;
      options.onWait?.(reported);
    }
    await sleep(Math.min(pollMs, Math.max(1, deadline - Date.now())));
  }
  heldLocks.set(path, owner);
  installExitHook();
  const heartbeat = setInterval(() => {
    const now = new Date();
    utimes(path, now, now).catch(() => undefined);
  }, heartbeatMs);
  heartbeat.unref();
  let released = false;
  return {
    path,
    owner,
    async release() {
      if (released) return;
      released = true;
      clearInterval(heartbeat);
      heldLocks.delete(path);
      const holder = await readLockOwner(path);
      if (typeof holder === 'object' && holder.token === owner.token) {
        await unlink(path).catch(() => undefined);
      }
    },
  };
}

/** Runs `body` while holding the lock at `path`; the lock is released however `body` ends. */
export async function withFileLock<T>(
  path: string,
  options: AcquireFileLockOptions,
  body: (lock: FileLock) => Promise<T>,
): Promise<T> {
  const lock = await acquireFileLock(path, options);
  try {
    return await body(lock);
  } finally {
    await lock.release();
  }
}

/** The owner recorded in a lock file, 'missing' when there is none, 'unreadable' when it is not JSON. */
export async function readLockOwner(path: string): Promise<FileLockOwner | 'missing' | 'unreadable'> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw toFileSystemError(error, { path, action: 'read the lock' });
  }
  try {
    const value = JSON.parse(text) as Partial<FileLockOwner>;
    if (
      typeof value.pid !== 'number' ||
      typeof value.hostname !== 'string' ||
      typeof value.token !== 'string'
    ) {
      return 'unreadable';
    }
    return value as FileLockOwner;
  } catch {
    return 'unreadable';
  }
}

async function tryCreateLockFile(path: string, owner: FileLockOwner): Promise<boolean> {
  const privatePath = `${path}.${owner.pid}.${owner.token}.partial`;
  try {
    const text = `${JSON.stringify(owner, null, 2)}\n`;
    await writeFile(privatePath, text);
    try {
      await link(privatePath, path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // File systems without hard links: exclusive create, then write (a reader may briefly see it empty,
      // which counts as 'unreadable' and is only broken once older than staleAfterMs).
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw error;
      await writeFile(path, text, { flag: 'wx' });
    }
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw toFileSystemError(error, { path, action: 'create the lock' });
  } finally {
    await rm(privatePath, { force: true }).catch(() => undefined);
  }
}

async function lockAge(path: string): Promise<number> {
  try {
    return Date.now() - (await stat(path)).mtimeMs;
  } catch {
    return 0;
  }
}

function isStale(holder: FileLockOwner | 'unreadable', ageMs: number, staleAfterMs: number): boolean {
  // An unreadable lock cannot be written by a live holder (it is created complete): an older format or
  // a damaged file. Treat it like a silent foreign holder.
  if (holder === 'unreadable') return ageMs > staleAfterMs;
  const state = processState(holder);
  if (state === 'dead') return true;
  if (state === 'alive') return false;
  return ageMs > staleAfterMs;
}

/**
 * Removes a stale lock without racing another process that is breaking it too: the breaker takes a
 * short second lock (`<path>.break`), checks the lock still names the same dead holder, then removes it.
 */
async function breakStaleLock(path: string, holder: FileLockOwner | 'unreadable'): Promise<void> {
  const breakerPath = `${path}.break`;
  const me = currentProcessIdentity();
  const breaker: FileLockOwner = {
    ...me,
    purpose: 'removing a stale lock',
    acquiredAt: new Date().toISOString(),
    token: randomBytes(8).toString('hex'),
  };
  if (!(await tryCreateLockFile(breakerPath, breaker))) {
    // Another process is breaking it; if that one died mid-way, its breaker is stale after a few seconds.
    const other = await readLockOwner(breakerPath);
    if (other !== 'missing' && isStale(other, await lockAge(breakerPath), 10_000)) {
      await rm(breakerPath, { force: true }).catch(() => undefined);
    }
    await sleep(20);
    return;
  }
  try {
    const now = await readLockOwner(path);
    const same =
      (holder === 'unreadable' && now === 'unreadable') ||
      (typeof holder === 'object' && typeof now === 'object' && now.token === holder.token);
    if (same) await rm(path, { force: true });
  } finally {
    await rm(breakerPath, { force: true }).catch(() => undefined);
  }
}

function lockHeldError(path: string, holder: FileLockOwner | undefined, waitMs: number): TraitlensError {
  const who =
    holder === undefined
      ? 'another process'
      : `process ${holder.pid} on ${holder.hostname} (${holder.purpose}, since ${holder.acquiredAt})`;
  const waited = waitMs > 0 ? ` after waiting ${Math.round(waitMs / 1000)} s` : '';
  return new TraitlensError(
    'LOCK_HELD',
    `${who} is working on the same output (lock ${path})${waited}. Wait for it to finish and run again; ` +
      `if that process is gone for good (another machine that crashed), delete ${path}.`,
    { details: { path, holder, waitMs } },
  );
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A normal exit (also process.exit after an error) removes this process's locks; a kill -9 cannot,
  // which the stale detection above handles.
  process.on('exit', () => {
    for (const [path, owner] of heldLocks) {
      try {
        if (readFileSync(path, 'utf8').includes(owner.token)) unlinkSync(path);
      } catch {
        // Already gone.
      }
    }
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
