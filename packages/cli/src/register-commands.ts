import type { Command } from 'commander';
import { registerActivationsCommand } from './commands/activations';
import { registerAnalyzeCommand } from './commands/analyze';
import { registerCaptureCommand } from './commands/capture';
import { registerDatasetsCommand } from './commands/datasets';
import { registerExtractCommand } from './commands/extract';
import { registerGenerateCommand } from './commands/generate';
import { registerLabelCommand } from './commands/label';
import { registerModelDiffCommand } from './commands/model-diff';
import { registerPlanCommand } from './commands/plan';
import { registerPredictivityCommand } from './commands/predictivity';
import { registerReportCommand } from './commands/report';
import { registerRunCommand } from './commands/run';
import { registerStatusCommand } from './commands/status';
import { registerSteerCommand } from './commands/steer';

/**
 * Each command lives in commands/<name>.ts and registers its options here; its heavy implementation is
 * imported lazily inside the action, so `traitlens --help` stays fast. Adding a command = one file + one
 * line below.
 */
export function registerCommands(program: Command): void {
  registerGenerateCommand(program);
  registerActivationsCommand(program);
  registerSteerCommand(program);
  registerDatasetsCommand(program);
  registerExtractCommand(program);
  registerPlanCommand(program);
  registerAnalyzeCommand(program);
  registerReportCommand(program);
  registerCaptureCommand(program);
  registerRunCommand(program);
  registerStatusCommand(program);
  registerLabelCommand(program);
  registerModelDiffCommand(program);
  registerPredictivityCommand(program);
}
