#!/usr/bin/env node
import { Command } from 'commander';
import { registerCommands } from './register-commands';
import { reportCliError } from './report-cli-error';

/** Entry point of the `traitlens` binary. */
export async function runCli(argv: readonly string[] = process.argv): Promise<void> {
  const program = new Command('traitlens')
    .description('Trait vectors for large language models: extract, steer, capture, analyse.')
    .showHelpAfterError()
    .exitOverride();
  registerCommands(program);
  try {
    await program.parseAsync([...argv]);
  } catch (error) {
    process.exitCode = reportCliError(error);
  }
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].replace(/^.*[\\/]/, ''));
if (invokedDirectly) await runCli();
