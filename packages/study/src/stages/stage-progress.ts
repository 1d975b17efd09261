import type { StageContext, StageProgressTask } from './stage-context';

/** Tasks of a stage's progress display, keyed by what they count (a trait's step, a prompt set). */
export interface StageProgressTracker {
  /** Whether a display is attached (without one, stages log a line per tenth instead). */
  readonly active: boolean;
  /** Creates the task `label` on first sight; finishes it when `done` reaches `total`. */
  update(label: string, done: number, total: number, unit?: string): void;
  /** Finishes every open task (a stage that ends early, an error). */
  finishAll(): void;
}

export function createStageProgressTracker(context: Pick<StageContext, 'progress'>): StageProgressTracker {
  const tasks = new Map<string, StageProgressTask>();
  return {
    active: context.progress !== undefined,
    update(label, done, total, unit) {
      if (!context.progress) return;
      let task = tasks.get(label);
      if (!task) {
        task = context.progress.task(label, { total, done, ...(unit ? { unit } : {}) });
        tasks.set(label, task);
      }
      task.update(done, total);
      if (done >= total) {
        task.finish();
        tasks.delete(label);
      }
    },
    finishAll() {
      for (const task of tasks.values()) task.finish();
      tasks.clear();
    },
  };
}
