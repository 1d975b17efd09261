import { Command } from 'commander';
import { registerCommands } from './register-commands';
import { reportCliError } from './report-cli-error';

/** Runs the `traitlens` command line; returns the exit code instead of exiting, so tests can call it. */
export async function runCli(argv: readonly string[] = process.argv.slice(2)): Promise<number> {
  const program = new Command('traitlens')
    .description('Trait vectors for large language models: extract, steer, capture, analyse.')
    .showHelpAfterError()
    .exitOverride();
  registerCommands(program);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (error) {
    return reportCliError(error);
  }
}
