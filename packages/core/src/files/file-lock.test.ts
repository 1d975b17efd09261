import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { TraitlensError } from '../errors/traitlens-error';
import { acquireFileLock, readLockOwner, withFileLock } from './file-lock';
import { currentProcessIdentity } from './process-identity';

const worker = fileURLToPath(new URL('./__fixtures__/lock-worker.ts', import.meta.url));

function startWorker(args: string[]): ChildProcess {
  return spawn(process.execPath, ['--conditions=@traitlens/source', '--import', 'tsx', worker, ...args], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
}

function waitForLine(child: ChildProcess, line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      if (seen.includes(line)) resolve();
    });
    child.on('exit', (code) => reject(new Error(`worker exited (${code}) before printing ${line}`)));
  });
}

function waitForExit(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.on('exit', (code) => resolve(code));
  });
}

async function lockPathInTemp(): Promise<string> {
  return join(await mkdtemp(join(tmpdir(), 'traitlens-lock-')), 'stage', '.lock');
}

describe('acquireFileLock', () => {
  it('refuses a second holder with LOCK_HELD naming the holder, and frees the lock on release', async () => {
    const path = await lockPathInTemp();
    const lock = await acquireFileLock(path, { purpose: 'extract a/b' });
    const owner = await readLockOwner(path);
    expect(owner).toMatchObject({ pid: process.pid, hostname: hostname(), purpose: 'extract a/b' });
    const refused = await acquireFileLock(path, { purpose: 'second' }).catch((error: unknown) => error);
    expect(TraitlensError.hasCode(refused, 'LOCK_HELD')).toBe(true);
    expect((refused as Error).message).toContain(`process ${process.pid}`);
    expect((refused as Error).message).toContain('extract a/b');
    expect((refused as Error).message).toContain(path);
    await lock.release();
    await lock.release();
    expect(await readLockOwner(path)).toBe('missing');
    await withFileLock(path, { purpose: 'third' }, async () => {
      expect(await readLockOwner(path)).toMatchObject({ purpose: 'third' });
    });
    expect(await readLockOwner(path)).toBe('missing');
  });

  it('waits a bounded time, telling the caller once, then refuses', async () => {
    const path = await lockPathInTemp();
    const lock = await acquireFileLock(path, { purpose: 'first' });
    const waits: unknown[] = [];
    const refused = await acquireFileLock(path, {
      purpose: 'second',
      waitMs: 200,
      pollMs: 20,
      onWait: (owner) => waits.push(owner),
    }).catch((error: unknown) => error);
    expect(TraitlensError.hasCode(refused, 'LOCK_HELD')).toBe(true);
    expect(waits).toHaveLength(1);
    expect(waits[0]).toMatchObject({ purpose: 'first' });
    await lock.release();
  });

  it('takes over a lock whose holder was killed with SIGKILL', async () => {
    const path = await lockPathInTemp();
    const holder = startWorker(['hold', path]);
    await waitForLine(holder, 'held');
    const refused = await acquireFileLock(path, { purpose: 'while alive' }).catch((error: unknown) => error);
    expect(TraitlensError.hasCode(refused, 'LOCK_HELD')).toBe(true);
    holder.kill('SIGKILL');
    await waitForExit(holder);
    expect(await readLockOwner(path)).toMatchObject({ pid: holder.pid });
    const lock = await acquireFileLock(path, { purpose: 'after the kill' });
    expect(await readLockOwner(path)).toMatchObject({ pid: process.pid, purpose: 'after the kill' });
    await lock.release();
  });

  it('waits for a live holder in another process and gets the lock when it releases', async () => {
    const path = await lockPathInTemp();
    const holder = startWorker(['hold', path]);
    await waitForLine(holder, 'held');
    let waited = false;
    const pending = acquireFileLock(path, {
      purpose: 'waiter',
      waitMs: 120_000,
      pollMs: 20,
      onWait: () => {
        waited = true;
        holder.stdin?.end();
      },
    });
    const lock = await pending;
    expect(waited).toBe(true);
    expect(await waitForExit(holder)).toBe(0);
    await lock.release();
  });

  it('treats a reused pid (same pid, other start time) as a dead holder', async () => {
    const path = await lockPathInTemp();
    const me = currentProcessIdentity();
    if (me.startTicks === undefined) {
      console.warn('skipped: no /proc here, so start times cannot be compared');
      return;
    }
    await acquireFileLock(path, { purpose: 'make the folder' }).then((lock) => lock.release());
    await writeFile(
      path,
      JSON.stringify({ ...me, startTicks: me.startTicks + 1, purpose: 'old', acquiredAt: '', token: 'x' }),
    );
    const lock = await acquireFileLock(path, { purpose: 'new' });
    expect(await readLockOwner(path)).toMatchObject({ purpose: 'new' });
    await lock.release();
  });

  it('takes over a lock from another host only once its heartbeat is stale', async () => {
    const path = await lockPathInTemp();
    await acquireFileLock(path, { purpose: 'make the folder' }).then((lock) => lock.release());
    const foreign = {
      pid: 1,
      hostname: 'another-host.example',
      purpose: 'remote',
      acquiredAt: '',
      token: 'y',
    };
    await writeFile(path, JSON.stringify(foreign));
    const refused = await acquireFileLock(path, { purpose: 'local' }).catch((error: unknown) => error);
    expect(TraitlensError.hasCode(refused, 'LOCK_HELD')).toBe(true);
    expect((refused as Error).message).toContain('another-host.example');
    const old = new Date(Date.now() - 20 * 60_000);
    await utimes(path, old, old);
    const lock = await acquireFileLock(path, { purpose: 'local' });
    expect(await readLockOwner(path)).toMatchObject({ purpose: 'local' });
    await lock.release();
  });

  it('keeps two processes mutually exclusive (no lost increments of a shared counter)', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'traitlens-lock-'));
    const counter = join(directory, 'counter');
    await writeFile(counter, '0');
    const lockPath = join(directory, '.lock');
    const workers = [0, 1, 2].map(() => startWorker(['count', lockPath, counter, '25']));
    const codes = await Promise.all(workers.map(waitForExit));
    expect(codes).toEqual([0, 0, 0]);
    expect(await readFile(counter, 'utf8')).toBe('75');
    expect(await readLockOwner(lockPath)).toBe('missing');
  });
});
