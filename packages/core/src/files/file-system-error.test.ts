import { describe, expect, it } from 'vitest';
import { TraitlensError } from '../errors/traitlens-error';
import { toFileSystemError, withFileSystemErrors } from './file-system-error';

function errno(code: string): Error {
  return Object.assign(new Error(`${code}: raw message`), { code });
}

describe('toFileSystemError', () => {
  it.each([
    ['ENOSPC', 'DISK_FULL', 'disk is full'],
    ['EDQUOT', 'DISK_FULL', 'quota'],
    ['EROFS', 'FILE_SYSTEM_ERROR', 'read-only'],
    ['EACCES', 'FILE_SYSTEM_ERROR', 'permission denied'],
    ['EPERM', 'FILE_SYSTEM_ERROR', 'not permitted'],
    ['ENOTDIR', 'FILE_SYSTEM_ERROR', 'regular file'],
    ['EISDIR', 'FILE_SYSTEM_ERROR', 'is a folder'],
    ['EEXIST', 'FILE_SYSTEM_ERROR', 'already exists'],
    ['ENOENT', 'FILE_NOT_FOUND', 'does not exist'],
    ['EXDEV', 'FILE_SYSTEM_ERROR', 'EXDEV'],
  ])('maps %s to %s with the path and advice', (code, traitlensCode, advice) => {
    const cause = errno(code);
    const mapped = toFileSystemError(cause, { path: '/data/exp/summary.json', action: 'write' });
    expect(TraitlensError.hasCode(mapped, traitlensCode as never)).toBe(true);
    const error = mapped as TraitlensError;
    expect(error.message).toMatch(/^could not write \/data\/exp\/summary\.json: /);
    expect(error.message).toContain(advice);
    expect(error.cause).toBe(cause);
    expect(error.details).toEqual({ path: '/data/exp/summary.json', action: 'write', errno: code });
  });

  it('passes TraitlensErrors and non-file-system errors through unchanged', async () => {
    const own = new TraitlensError('INVALID_ARGUMENT', 'x');
    expect(toFileSystemError(own, { path: 'p', action: 'write' })).toBe(own);
    const plain = new TypeError('bug');
    expect(toFileSystemError(plain, { path: 'p', action: 'write' })).toBe(plain);
    await expect(
      withFileSystemErrors({ path: 'p', action: 'read' }, async () => {
        throw errno('EACCES');
      }),
    ).rejects.toMatchObject({ code: 'FILE_SYSTEM_ERROR' });
  });
});
