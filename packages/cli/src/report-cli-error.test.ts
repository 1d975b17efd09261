import { TraitlensError } from '@traitlens/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { reportCliError } from './report-cli-error';

function report(error: unknown, debug = false): { code: number; text: string } {
  const lines: string[] = [];
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  const before = process.env.TRAITLENS_DEBUG;
  if (debug) process.env.TRAITLENS_DEBUG = '1';
  else delete process.env.TRAITLENS_DEBUG;
  try {
    return { code: reportCliError(error), text: lines.join('') };
  } finally {
    spy.mockRestore();
    if (before === undefined) delete process.env.TRAITLENS_DEBUG;
    else process.env.TRAITLENS_DEBUG = before;
  }
}

function errno(code: string, syscall: string, path: string): Error {
  return Object.assign(new Error(`${code}: ${syscall} '${path}'`), { code, syscall, path });
}

describe('reportCliError', () => {
  afterEach(() => vi.restoreAllMocks());

  it.each([
    ['EROFS', 'FILE_SYSTEM_ERROR', 'read-only'],
    ['EACCES', 'FILE_SYSTEM_ERROR', 'permission denied'],
    ['ENOTDIR', 'FILE_SYSTEM_ERROR', 'regular file'],
    ['EEXIST', 'FILE_SYSTEM_ERROR', 'already exists'],
    ['ENOSPC', 'DISK_FULL', 'disk is full'],
  ])('prints an escaped %s as %s naming the path, no stack, exit 1', (code, traitlensCode, advice) => {
    const { code: exit, text } = report(errno(code, 'open', '/exp/a/b.json'));
    expect(exit).toBe(1);
    expect(text).toContain('/exp/a/b.json');
    expect(text).toContain(advice);
    expect(text).toContain(`error ${traitlensCode}`);
    expect(text).not.toMatch(/\n\s+at /);
  });

  it('turns a RangeError into INVALID_ARGUMENT without a stack; TRAITLENS_DEBUG shows it', () => {
    const plain = report(new RangeError('Invalid array length'));
    expect(plain.code).toBe(1);
    expect(plain.text).toContain('INVALID_ARGUMENT');
    expect(plain.text).not.toMatch(/\n\s+at /);
    const debug = report(new RangeError('Invalid array length'), true);
    expect(debug.text).toMatch(/\n\s+at /);
  });

  it('keeps TraitlensErrors and reports other errors as bugs (exit 2) without a stack', () => {
    expect(report(new TraitlensError('LOCK_HELD', 'held')).code).toBe(1);
    const bug = report(new TypeError('x is undefined'));
    expect(bug.code).toBe(2);
    expect(bug.text).toContain('TRAITLENS_DEBUG=1');
    expect(bug.text).not.toMatch(/\n\s+at /);
  });
});
