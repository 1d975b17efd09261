import type { Experiment } from '../config/load-experiment';
import type { StudyModels } from '../models/study-models';

/** What every stage gets. */
export interface StageContext {
  experiment: Experiment;
  models: StudyModels;
  /** Redo the stage's work even where its files are complete. */
  force: boolean;
  log: (line: string) => void;
}

/** What a stage reports; stored in pipeline.json. */
export type StageSummary = Record<string, unknown>;
