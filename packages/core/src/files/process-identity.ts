import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

/** Who a lock or a temporary file belongs to: enough to tell later whether that process still runs. */
export interface ProcessIdentity {
  pid: number;
  hostname: string;
  /**
   * The process's start time in clock ticks since boot (Linux `/proc/<pid>/stat` field 22), so a pid
   * reused by an unrelated process is not mistaken for the holder; undefined where /proc is missing.
   */
  startTicks?: number;
}

/** The running process. */
export function currentProcessIdentity(): ProcessIdentity {
  const startTicks = processStartTicks(process.pid);
  return startTicks === undefined
    ? { pid: process.pid, hostname: hostname() }
    : { pid: process.pid, hostname: hostname(), startTicks };
}

/** Eight hex digits naming this host in temporary file names (hostnames may hold dots and be long). */
export function hostTag(name: string = hostname()): string {
  return createHash('sha256').update(name).digest('hex').slice(0, 8);
}

/**
 * Whether the process that `identity` describes still runs: 'dead' and 'alive' are certain on this
 * host; a process on another host (a shared network folder) is 'unknown'.
 */
export function processState(identity: ProcessIdentity): 'alive' | 'dead' | 'unknown' {
  if (identity.hostname !== hostname()) return 'unknown';
  if (!isPidRunning(identity.pid)) return 'dead';
  if (identity.startTicks !== undefined) {
    const now = processStartTicks(identity.pid);
    if (now !== undefined && now !== identity.startTicks) return 'dead';
  }
  return 'alive';
}

/** True when a process with this pid exists on this host (signal 0 checks without sending anything). */
export function isPidRunning(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function processStartTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[19]);
    return Number.isFinite(ticks) ? ticks : undefined;
  } catch {
    return undefined;
  }
}
