import type { WorkShard } from '@traitlens/core';
import type { Experiment } from '../config/load-experiment';
import type { StudyModels } from '../models/study-models';

/** What every stage gets. */
export interface StageContext {
  experiment: Experiment;
  models: StudyModels;
  /** Redo the stage's work even where its files are complete. */
  force: boolean;
  /** Only this shard's units (traits, layers, prompts); undefined: all of them. */
  shard?: WorkShard;
  log: (line: string) => void;
}

/** What a stage reports; stored in pipeline.json. */
export type StageSummary = Record<string, unknown>;
