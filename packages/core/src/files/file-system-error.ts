import { TraitlensError } from '../errors/traitlens-error';

/** What traitlens was doing when the file system refused, for the message ("write", "create folder"). */
export interface FileSystemErrorContext {
  /** The path the operation was on (the final name, not a temporary sibling). */
  path: string;
  /** A short verb phrase: 'write', 'read', 'create the folder for', 'lock', 'remove'. */
  action: string;
}

const advice: Record<string, string> = {
  ENOSPC:
    'the disk is full: free space (or point the experiment at another disk) and re-run; finished work is kept',
  EDQUOT: 'the disk quota is used up: free space and re-run; finished work is kept',
  EROFS:
    'the file system is read-only: choose a writable folder (for example another --experiment or --output)',
  EACCES: 'permission denied: make the folder writable for this user or choose another folder',
  EPERM: 'the operation is not permitted: make the folder writable for this user or choose another folder',
  ENOTDIR:
    'a part of the path is a regular file, not a folder: remove or rename that file, or choose another path',
  EISDIR:
    'the path is a folder where a file is expected: remove or rename the folder, or choose another path',
  EEXIST: 'something already exists where a folder is needed: remove or rename it, or choose another path',
  ENAMETOOLONG: 'the path is too long for this file system: choose a shorter folder or name',
  EMFILE: 'too many open files: raise the limit (ulimit -n) or lower the concurrency',
  ENFILE: 'the system has too many open files: close other programs or raise the limit',
  EIO: 'the device reported an I/O error: check the disk',
  ENOENT: 'the file or folder does not exist: check the path',
};

/** Node's error code of a file-system error (`ENOSPC`, ...), or undefined for anything else. */
export function fileSystemErrorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && /^E[A-Z]+$/.test(code) ? code : undefined;
}

/** True for the errors that mean "no space left": ENOSPC and EDQUOT. */
export function isDiskFullError(error: unknown): boolean {
  const code = fileSystemErrorCode(error);
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/**
 * Turns a Node file-system error into a TraitlensError that names the path and says what to do
 * (`DISK_FULL` for ENOSPC/EDQUOT, `FILE_NOT_FOUND` for ENOENT, `FILE_SYSTEM_ERROR` otherwise). A
 * TraitlensError or a non-file-system error is returned unchanged, so callers can wrap any catch.
 */
export function toFileSystemError(error: unknown, context: FileSystemErrorContext): unknown {
  if (TraitlensError.isInstance(error)) return error;
  const code = fileSystemErrorCode(error);
  if (code === undefined) return error;
  const what = advice[code] ?? `the operating system refused (${code})`;
  const details = { path: context.path, action: context.action, errno: code };
  const message = `could not ${context.action} ${context.path}: ${what}`;
  if (code === 'ENOSPC' || code === 'EDQUOT')
    return new TraitlensError('DISK_FULL', message, { cause: error, details });
  if (code === 'ENOENT') return new TraitlensError('FILE_NOT_FOUND', message, { cause: error, details });
  return new TraitlensError('FILE_SYSTEM_ERROR', message, { cause: error, details });
}

/** Runs `operation`, rethrowing a file-system error as the TraitlensError {@link toFileSystemError} makes. */
export async function withFileSystemErrors<T>(
  context: FileSystemErrorContext,
  operation: () => Promise<T>,
): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    throw toFileSystemError(error, context);
  }
}
