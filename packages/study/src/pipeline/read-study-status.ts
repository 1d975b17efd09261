import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { TraitlensError } from '@traitlens/core';
import { type Experiment, loadExperiment } from '../config/load-experiment';
import {
  isStageConfigured,
  type PipelineState,
  readPipelineState,
  type StudyStage,
  studyStages,
} from './pipeline-state';
import { computeStudyStageKeys } from './run-study';
import {
  completedShardCount,
  isCompletedByShards,
  isShardableStage,
  readShardFailures,
  readShardRecords,
} from './shard-records';

/** Where one stage stands. */
export interface StageStatus {
  stage: StudyStage;
  /**
   * `done`: finished with the config's current settings (a run skips it); `stale`: finished with other
   * settings (a run redoes it); `pending`: never finished; `unknown`: finished, but the config that would
   * say whether it is current was not found; `off`: the config has no block for it (label).
   */
  state: 'done' | 'stale' | 'pending' | 'unknown' | 'off';
  completedAt?: string;
  seconds?: number;
  summary?: Record<string, unknown>;
  /**
   * Sharded runs (`traitlens run --shard i/n`) of this stage: shard indices of the largest count seen that
   * finished with the current settings (`done`), with other settings (`stale`), or have no record
   * (`missing`: still running, failed or never started; resubmit those).
   */
  shards?: {
    count: number;
    done: number[];
    stale: number[];
    /** Threw (the last run of that shard failed); `failures` says why. */
    failed: number[];
    missing: number[];
    failures: Array<{ index: number; failedAt: string; message: string }>;
  };
}

/** What `traitlens status` prints. */
export interface StudyStatus {
  directory: string;
  config: string | null;
  stages: StageStatus[];
}

function statusOf(
  state: PipelineState,
  keys: Record<StudyStage, string> | undefined,
  experiment?: Experiment,
) {
  return studyStages.map((stage): StageStatus => {
    const record = state.stages[stage];
    if (experiment && !isStageConfigured(experiment.config, stage) && !record) return { stage, state: 'off' };
    if (!record) return { stage, state: 'pending' };
    const current = keys === undefined ? 'unknown' : record.key === keys[stage] ? 'done' : 'stale';
    return {
      stage,
      state: current,
      completedAt: record.completedAt,
      seconds: record.seconds,
      summary: record.summary,
    };
  });
}

/** Adds what shards recorded under pipeline-shards/ to each shardable stage's status. */
async function addShardStatus(
  directory: string,
  stages: StageStatus[],
  keys: Record<StudyStage, string> | undefined,
): Promise<StageStatus[]> {
  for (const entry of stages) {
    if (!isShardableStage(entry.stage)) continue;
    const records = await readShardRecords(directory, entry.stage);
    const failures = await readShardFailures(directory, entry.stage);
    if (records.length === 0 && failures.length === 0) continue;
    const count = Math.max(
      ...records.map((record) => record.count),
      ...failures.map((failure) => failure.count),
    );
    const current = (key: string) => keys === undefined || key === keys[entry.stage];
    const ofCount = records.filter((record) => record.count === count);
    const done = ofCount.filter((record) => current(record.key)).map((record) => record.index);
    const stale = ofCount.filter((record) => !current(record.key)).map((record) => record.index);
    const seen = new Set(ofCount.map((record) => record.index));
    // A failure counts once the shard has no newer success (a success removes its failure record).
    const failedNow = failures.filter((failure) => failure.count === count && !done.includes(failure.index));
    const failed = failedNow.map((failure) => failure.index);
    entry.shards = {
      count,
      done,
      stale: stale.filter((index) => !failed.includes(index)),
      failed,
      missing: Array.from({ length: count }, (_, index) => index).filter(
        (index) => !seen.has(index) && !failed.includes(index),
      ),
      failures: failedNow.map(({ index, failedAt, message }) => ({ index, failedAt, message })),
    };
    // Every shard finished with the current settings: the next unsharded run skips the stage.
    if (
      keys !== undefined &&
      isCompletedByShards(entry.stage) &&
      entry.state !== 'done' &&
      completedShardCount(records, keys[entry.stage]).count !== undefined
    )
      entry.state = 'done';
  }
  return stages;
}

/**
 * Which stages of an experiment are done, from its config file (`.yaml`/`.yml`) or its experiment folder
 * (then the config recorded in pipeline.json decides what is current, when it still exists). Loads no model.
 */
export async function readStudyStatus(
  target: string,
  options: { output?: string } = {},
): Promise<StudyStatus> {
  const isConfig = /\.ya?ml$/i.test(target);
  if (isConfig) {
    const experiment = await loadExperiment(target, options);
    const state = await readPipelineState(experiment.directory, experiment.file);
    return {
      directory: experiment.directory,
      config: experiment.file,
      stages: await addShardStatus(
        experiment.directory,
        statusOf(state, computeStudyStageKeys(experiment), experiment),
        computeStudyStageKeys(experiment),
      ),
    };
  }
  const info = await stat(target).catch(() => undefined);
  if (!info?.isDirectory())
    throw new TraitlensError(
      'FILE_NOT_FOUND',
      `${target} is neither an experiment YAML file nor an experiment folder; pass the config given to traitlens run, or the folder it wrote.`,
      { details: { file: target } },
    );
  const state = await readPipelineState(target, '');
  if (
    Object.keys(state.stages).length === 0 &&
    !(await stat(join(target, 'pipeline.json')).catch(() => undefined)) &&
    !(await stat(join(target, 'pipeline-shards')).catch(() => undefined))
  )
    throw new TraitlensError(
      'INVALID_EXPERIMENT',
      `${target} has no pipeline.json: no stage of traitlens run has finished there yet.`,
      { details: { file: target } },
    );
  const experiment = state.config
    ? await loadExperiment(state.config, { output: target }).catch(() => undefined)
    : undefined;
  return {
    directory: target,
    config: experiment?.file ?? null,
    stages: await addShardStatus(
      target,
      statusOf(state, experiment ? computeStudyStageKeys(experiment) : undefined, experiment),
      experiment ? computeStudyStageKeys(experiment) : undefined,
    ),
  };
}

/** The status as lines for a terminal or a log. */
export function formatStudyStatus(status: StudyStatus): string {
  const lines = [`experiment: ${status.directory}`, `config: ${status.config ?? '(not found)'}`];
  for (const entry of status.stages) {
    const when = entry.completedAt ? ` ${entry.completedAt} (${entry.seconds?.toFixed(1)} s)` : '';
    lines.push(`  ${entry.stage.padEnd(8)} ${entry.state.padEnd(8)}${when}`);
    if (entry.shards) {
      const { count, done, stale, failed, missing, failures } = entry.shards;
      const list = (indices: number[]) => (indices.length > 0 ? indices.join(',') : '-');
      const redo = missing.length + stale.length + failed.length > 0;
      lines.push(
        `           shards of ${count}: done ${list(done)}; stale ${list(stale)}; failed ${list(failed)}; missing ${list(missing)}${redo ? ` (resubmit those: --shard <i>/${count}, or those indices of an array that starts at 0)` : ''}`,
      );
      for (const failure of failures)
        lines.push(
          `           shard ${failure.index} failed ${failure.failedAt}: ${failure.message.split('\n')[0]}`,
        );
    }
  }
  const next = status.stages.find((entry) => entry.state === 'pending' || entry.state === 'stale');
  lines.push(
    next
      ? `next: traitlens run ${next.state === 'pending' ? 'starts at' : 'redoes'} ${next.stage} (and the stages that read it)`
      : 'every stage is done',
  );
  return lines.join('\n');
}
