import { TraitlensError } from '@traitlens/core';
import { CommanderError } from 'commander';

/** Prints an error for a person at a terminal and returns the exit code. */
export function reportCliError(error: unknown): number {
  if (error instanceof CommanderError) {
    // commander already printed usage help; help and version exits are not failures.
    return error.exitCode;
  }
  if (TraitlensError.isInstance(error)) {
    process.stderr.write(
      `traitlens: ${error.message}\n  (error ${error.code}; see docs/errors/${error.code}.md)\n`,
    );
    if (process.env.TRAITLENS_DEBUG) process.stderr.write(`${error.stack ?? ''}\n`);
    return 1;
  }
  process.stderr.write(
    `traitlens: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  return 2;
}
