import type { WorkShard } from '@traitlens/core';
import type { ExperimentConfig } from '../config/experiment-config';
import type { Experiment } from '../config/load-experiment';
import type { StudyModels } from '../models/study-models';

/** What every stage gets. */
export interface StageContext {
  experiment: Experiment;
  models: StudyModels;
  /** Redo the stage's work even where its files are complete. */
  force: boolean;
  /** Only this shard's units (traits, layers, prompts); undefined: all of them. */
  shard?: WorkShard | undefined;
  log: (line: string) => void;
  /** How long a stage that takes a lock (extract, capture, replay) waits for another process; default 0. */
  lockWaitMs?: number | undefined;
  /** Progress of long steps (a bar with ETA on a terminal, periodic lines in a log); optional. */
  progress?: StageProgress | undefined;
}

/** One long step: `update` it, `finish` it (the CLI's progress display has this shape). */
export interface StageProgressTask {
  update(done: number, total?: number, detail?: string): void;
  finish(): void;
}

export interface StageProgress {
  task(label: string, options?: { total?: number; done?: number; unit?: string }): StageProgressTask;
}

/** What a stage reports; stored in pipeline.json. */
export type StageSummary = Record<string, unknown>;

type StageBlocks = ExperimentConfig['stages'];

/**
 * The stage blocks a stage reads, typed as present: runStudy runs a stage only when the config has them
 * (parseExperimentConfig checks the combinations), so a missing one here is a bug, not a user error.
 */
export function requireStages<Name extends keyof StageBlocks>(
  stages: StageBlocks,
  ...names: Name[]
): StageBlocks & { [Key in Name]-?: NonNullable<StageBlocks[Key]> } {
  for (const name of names)
    if (stages[name] === undefined)
      throw new Error(`stages.${name} is missing; runStudy should not run this stage`);
  return stages as StageBlocks & { [Key in Name]-?: NonNullable<StageBlocks[Key]> };
}
