import { TraitlensError, toFileSystemError } from '@traitlens/core';
import { fileSystemErrorCode } from '@traitlens/core/internal';
import { CommanderError } from 'commander';

/** Where every error code is explained (docs/errors/<CODE>.md in the repository). */
export const errorDocsBaseUrl = 'https://github.com/traitlens/traitlens/blob/main/docs/errors';

/**
 * Prints an error for a person at a terminal and returns the exit code. No input produces a stack
 * trace: a TraitlensError prints its message, code and docs page; anything else a one-line message.
 * TRAITLENS_DEBUG=1 adds the stack (and causes) for a bug report.
 */
export function reportCliError(error: unknown): number {
  if (error instanceof CommanderError) {
    // commander already printed the message (a bad option names the option); help and version exit 0.
    return error.exitCode;
  }
  const debug = Boolean(process.env.TRAITLENS_DEBUG);
  error = asTraitlensError(error);
  if (TraitlensError.isInstance(error)) {
    process.stderr.write(
      `traitlens: ${error.message}\n  (error ${error.code}; see ${errorDocsBaseUrl}/${error.code}.md)\n`,
    );
    if (debug) process.stderr.write(`${describeStack(error)}\n`);
    return 1;
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(
    `traitlens: unexpected error: ${message}\n  ${debug ? describeStack(error) : '(this is a bug in traitlens; run again with TRAITLENS_DEBUG=1 for the stack trace and report it)'}\n`,
  );
  return 2;
}

/**
 * The last net for errors a library call let escape: a Node file-system error (it carries the path)
 * becomes the same TraitlensError the writers throw (read-only folder, full disk, a file in the way);
 * a RangeError (an impossible size or count reached an array constructor) becomes INVALID_ARGUMENT.
 */
function asTraitlensError(error: unknown): unknown {
  if (TraitlensError.isInstance(error)) return error;
  const code = fileSystemErrorCode(error);
  if (code !== undefined) {
    const path = (error as { path?: unknown }).path;
    const syscall = (error as { syscall?: unknown }).syscall;
    if (typeof path === 'string')
      return toFileSystemError(error, {
        path,
        action: typeof syscall === 'string' ? `${syscall}` : 'access',
      });
  }
  if (error instanceof RangeError) {
    return new TraitlensError(
      'INVALID_ARGUMENT',
      `a size or count is out of range (${error.message}); check the numeric options and the model config for negative or huge values.`,
      { cause: error },
    );
  }
  return error;
}

function describeStack(error: unknown): string {
  const parts: string[] = [];
  for (let current = error, depth = 0; current !== undefined && depth < 5; depth++) {
    parts.push(current instanceof Error ? (current.stack ?? current.message) : String(current));
    current = current instanceof Error ? current.cause : undefined;
    if (current !== undefined) parts.push('caused by:');
  }
  return parts.join('\n');
}
