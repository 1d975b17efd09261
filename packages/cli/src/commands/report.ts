import { type Command, Option } from 'commander';
import { integerOption } from '../parse-option-values';

interface ReportCommandOptions {
  experiment: string;
  analysis?: string;
  output?: string;
  images: boolean;
  heatmapPrompts: number;
}

export function registerReportCommand(program: Command): void {
  program
    .command('report')
    .description(
      'Write a self-contained HTML report of an experiment (docs/report.md; works offline): model diff, token view, detection, predictivity, steering sweeps and extraction metrics, plus every chart as SVG and PNG.',
    )
    .requiredOption('--experiment <dir>', 'experiment folder (reads analysis/, steering/, extraction/)')
    .option('--analysis <dir>', 'analysis folder (default <experiment>/analysis)')
    .option('--output <dir>', 'where to write index.html and plots/ (default <experiment>/report)')
    .option('--no-images', 'skip the SVG/PNG copies of the charts')
    .addOption(
      new Option('--heatmap-prompts <n>', 'prompts shown in the trait x prompt x layer heatmap')
        .argParser(integerOption({ min: 1 }))
        .default(60),
    )
    .action(runReportCommand);
}

async function runReportCommand(options: ReportCommandOptions): Promise<void> {
  const [{ writeReport }, { createProgressDisplay }, { relative }] = await Promise.all([
    import('@traitlens/analysis'),
    import('../progress-display'),
    import('node:path'),
  ]);
  // Compiling the charts and rendering their images: bars with an ETA on a terminal, lines in a log.
  const display = createProgressDisplay();
  const tasks = new Map<string, import('../progress-display').ProgressTask>();
  let written: Awaited<ReturnType<typeof writeReport>>;
  try {
    written = await writeReport({
      experiment: options.experiment,
      ...(options.analysis ? { analysisDirectory: options.analysis } : {}),
      ...(options.output ? { outputDirectory: options.output } : {}),
      images: options.images,
      maximumHeatmapPrompts: options.heatmapPrompts,
      onProgress: (step, done, total) => {
        const label = step === 'charts' ? 'compiling charts' : 'writing chart images';
        let task = tasks.get(label);
        if (!task) {
          task = display.task(label, { total, unit: 'charts' });
          tasks.set(label, task);
        }
        task.update(done, total);
      },
    });
  } finally {
    for (const task of tasks.values()) task.finish();
    display.stop();
  }
  process.stdout.write(
    `wrote ${relative(process.cwd(), written.htmlPath)} (${(written.bytes / 1e6).toFixed(1)} MB, ${written.charts.length} charts${written.images.length > 0 ? `, ${written.images.length} images under plots/` : ''})\n`,
  );
}
