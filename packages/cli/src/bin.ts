#!/usr/bin/env node
import { runCli } from './main';
import { reportCliError } from './report-cli-error';

// Errors that escape the awaited chain (a rejected promise nobody awaited, a throw in a callback) are
// reported like any other: a message, no stack trace.
const reportAndExit = (error: unknown) => {
  process.exit(reportCliError(error));
};
process.on('uncaughtException', reportAndExit);
process.on('unhandledRejection', reportAndExit);

process.exitCode = await runCli();
