import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { registerCommands } from './register-commands';
import { reportCliError } from './report-cli-error';

/** The CLI package's version (src/ and dist/ both sit one level below package.json). */
export function cliVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return manifest.version;
}

/** Runs the `traitlens` command line; returns the exit code instead of exiting, so tests can call it. */
export async function runCli(argv: readonly string[] = process.argv.slice(2)): Promise<number> {
  const program = new Command('traitlens')
    .description(
      'Trait vectors for large language models: extract, steer, capture, analyse. Option vocabulary and examples: the @traitlens/cli README; every error code: docs/errors/.',
    )
    .version(cliVersion(), '-V, --version', 'print the traitlens version')
    .showHelpAfterError('(add --help for usage)')
    .exitOverride();
  // Commands created after this point inherit the short hint and exit through runCli, not process.exit.
  registerCommands(program);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (error) {
    return reportCliError(error);
  }
}
