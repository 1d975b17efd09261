import { relative } from 'node:path';
import { writeReport } from '@traitlens/analysis';
import type { StageContext, StageSummary } from './stage-context';
import { createStageProgressTracker } from './stage-progress';

/** Stage 7: the self-contained HTML report (model diff, token view, detection, steering, extraction). */
export async function runReportStage(context: StageContext): Promise<StageSummary> {
  const settings = context.experiment.config.stages.report;
  const progress = createStageProgressTracker(context);
  let written: Awaited<ReturnType<typeof writeReport>>;
  try {
    written = await writeReport({
      experiment: context.experiment.directory,
      images: settings.images,
      maximumHeatmapPrompts: settings.heatmapPrompts,
      onProgress: (step, done, total) =>
        progress.update(step === 'charts' ? 'report compile' : 'report images', done, total, 'charts'),
    });
  } finally {
    progress.finishAll();
  }
  context.log(
    `  ${relative(process.cwd(), written.htmlPath)} (${(written.bytes / 1e6).toFixed(1)} MB, ${written.charts.length} charts)`,
  );
  return {
    html: written.htmlPath,
    charts: written.charts,
    images: written.images.length,
    bytes: written.bytes,
  };
}
