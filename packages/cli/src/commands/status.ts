import type { Command } from 'commander';

interface StatusCommandOptions {
  output?: string;
  json?: boolean;
}

export function registerStatusCommand(program: Command): void {
  program
    .command('status')
    .description(
      'Show which stages of a study are done, stale (settings changed since) or pending, from its experiment YAML file or the folder traitlens run wrote. Loads no model. See docs/study.md.',
    )
    .argument('<experiment>', 'the experiment YAML file, or its experiment folder')
    .option(
      '--output <dir>',
      'with a YAML file: the experiment folder, when traitlens run was given --output',
    )
    .option('--json', 'print the status as JSON')
    .action(async (target: string, options: StatusCommandOptions) => {
      const study = await import('@traitlens/study');
      const status = await study.readStudyStatus(target, options.output ? { output: options.output } : {});
      process.stdout.write(
        options.json ? `${JSON.stringify(status, null, 2)}\n` : `${study.formatStudyStatus(status)}\n`,
      );
    });
}
