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
    .action(async (options: ReportCommandOptions) => {
      const [{ writeReport }, { relative }] = await Promise.all([
        import('@traitlens/analysis'),
        import('node:path'),
      ]);
      const written = await writeReport({
        experiment: options.experiment,
        ...(options.analysis ? { analysisDirectory: options.analysis } : {}),
        ...(options.output ? { outputDirectory: options.output } : {}),
        images: options.images,
        maximumHeatmapPrompts: options.heatmapPrompts,
      });
      process.stdout.write(
        `wrote ${relative(process.cwd(), written.htmlPath)} (${(written.bytes / 1e6).toFixed(1)} MB, ${written.charts.length} charts${written.images.length > 0 ? `, ${written.images.length} images under plots/` : ''})\n`,
      );
    });
}
