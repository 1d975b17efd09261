import { mkdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { formatWorkShard, TraitlensError, type WorkShard, writeFileAtomic } from '@traitlens/core';
import type { RuntimeConfig } from '../config/experiment-config';
import type { Experiment } from '../config/load-experiment';
import { createTinyOrganism } from '../models/create-tiny-organism';
import { StudyModels } from '../models/study-models';
import { runAnalyzeStage } from '../stages/analyze-stage';
import { runCaptureStage, runReplayStage } from '../stages/capture-stage';
import { runExtractStage } from '../stages/extract-stage';
import { runInterveneStage } from '../stages/intervene-stage';
import { runLabelStage } from '../stages/label-stage';
import { runPredictivityStage } from '../stages/predictivity-stage';
import { runReportStage } from '../stages/report-stage';
import type { StageContext, StageProgress, StageSummary } from '../stages/stage-context';
import { runSteerStage } from '../stages/steer-stage';
import { checkStudyInputs } from './check-study-inputs';
import {
  computeStageKey,
  isStageConfigured,
  type PipelineState,
  readPipelineState,
  type StudyStage,
  studyStages,
  writePipelineState,
} from './pipeline-state';
import {
  completedShardCount,
  isCompletedByShards,
  isShardableStage,
  readShardRecords,
  shardableStages,
  writeShardFailure,
  writeShardRecord,
} from './shard-records';

export interface RunStudyOptions {
  /** Stages to run, in study order (default: all). Earlier stages must have finished before. */
  stages?: readonly StudyStage[] | undefined;
  /** Redo these stages (true: all) even when pipeline.json says they finished with the same settings. */
  force?: boolean | readonly StudyStage[] | undefined;
  /**
   * Run only this shard of the shardable stages (extract, steer, capture, replay): its traits, layers
   * and prompts. Each shard records its part under pipeline-shards/; a later unsharded run finds the
   * stage complete there (every shard of one count finished with the current settings) and loads no
   * model for it. Other stages are refused with a shard.
   */
  shard?: WorkShard | undefined;
  log?: ((line: string) => void) | undefined;
  /**
   * Progress of long steps (model downloads and conversion, generation, judging, capture, analysis):
   * the CLI passes its display (bars with ETA on a terminal, periodic lines in a log).
   */
  progress?: StageProgress | undefined;
  /**
   * How long extract, capture and replay wait (ms) for another live process holding their lock before
   * failing with LOCK_HELD; default 0 (docs/reliability.md).
   */
  lockWaitMs?: number | undefined;
}

export interface StudyRun {
  state: PipelineState;
  ran: StudyStage[];
  skipped: StudyStage[];
  seconds: number;
}

const stageRunners: Record<StudyStage, (context: StageContext) => Promise<StageSummary>> = {
  extract: runExtractStage,
  steer: runSteerStage,
  capture: runCaptureStage,
  replay: runReplayStage,
  label: runLabelStage,
  intervene: runInterveneStage,
  predictivity: runPredictivityStage,
  analyze: runAnalyzeStage,
  report: runReportStage,
};

/** The runtime settings that change numbers (threads and providers do not change what is computed). */
function numerics(runtime: RuntimeConfig): Record<string, unknown> {
  return {
    dtype: runtime.dtype ?? 'fp32',
    computeDtype: runtime.computeDtype,
    blockSize: runtime.blockSize,
    zeroPoints: runtime.zeroPoints,
  };
}

/**
 * A key per stage from the settings its outputs depend on, chained through the stages it reads, so
 * editing the capture block reruns capture and everything after it, and nothing before.
 */
export function computeStudyStageKeys(experiment: Experiment): Record<StudyStage, string> {
  const { config } = experiment;
  const { stages, models } = config;
  const judge = { spec: config.judge?.spec, lexicons: config.judge?.lexicons };
  const organism = {
    tiny: config.tinyOrganism,
    instruct: models.instruct.source,
    lora: models.lora?.source,
    runtime: numerics(experiment.runtime.instruct),
  };
  const extract = computeStageKey({
    tiny: config.tinyOrganism,
    model: models.extraction?.source,
    runtime: numerics(experiment.runtime.extraction),
    settings: stages.extract ?? null,
    ...(stages.extract?.vetResponses ? { judge } : {}),
  });
  const steer = computeStageKey({ extract, organism, settings: stages.steer, judge });
  const capture = computeStageKey({ organism, settings: stages.capture ?? null });
  const replay = computeStageKey({ capture, settings: stages.replay });
  const label = computeStageKey({
    capture,
    settings: stages.label ?? null,
    ...(stages.label?.judge ? { judge } : {}),
  });
  const intervene = computeStageKey({
    extract,
    replay,
    label,
    organism,
    settings: stages.intervene ?? null,
    ...(stages.label?.judge ? { judge } : {}),
  });
  const predictivity = computeStageKey({
    ...(stages.predictivity?.extractedMethod ? { extract } : {}),
    model:
      stages.predictivity?.model === 'extraction'
        ? { source: models.extraction?.source, runtime: numerics(experiment.runtime.extraction) }
        : organism,
    settings: stages.predictivity ?? null,
  });
  const analyze = computeStageKey({ extract, replay, label, settings: stages.analyze ?? null });
  const report = computeStageKey({ analyze, steer, intervene, settings: stages.report });
  return { extract, steer, capture, replay, label, intervene, predictivity, analyze, report };
}

/** Refuses a shard for stages that run in one process. */
function checkShardableStages(selected: ReadonlySet<StudyStage>, shard: WorkShard): void {
  const unshardable = [...selected].filter((stage) => !isShardableStage(stage));
  if (unshardable.length > 0)
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      `--shard ${formatWorkShard(shard)}: ${unshardable.join(', ')} run${unshardable.length === 1 ? 's' : ''} in one process; shard only ${shardableStages.join(', ')} (e.g. --only capture,replay), then run the rest without --shard.`,
      { details: { stages: unshardable } },
    );
}

/** The experiment folder with the config it was made with, and the tiny organism's models when it has one. */
async function prepareExperimentFolder(experiment: Experiment, log: (line: string) => void): Promise<void> {
  await mkdir(experiment.directory, { recursive: true });
  // The experiment folder keeps the config it was made with (DESIGN.md: experiments/<name>/config.yaml).
  await writeFileAtomic(join(experiment.directory, 'config.yaml'), await readFile(experiment.file));
  const tiny = experiment.config.tinyOrganism;
  const directory = experiment.tinyOrganismDirectory;
  if (tiny && directory !== undefined) {
    log(`tiny organism: ${relative(process.cwd(), directory)}`);
    await createTinyOrganism(directory, tiny);
  }
}

/** What the steps of one study run share. */
interface StudyRunContext {
  experiment: Experiment;
  options: RunStudyOptions;
  /** Set only for a shard of a run split in several (count > 1). */
  shard: WorkShard | undefined;
  state: PipelineState;
  keys: Record<StudyStage, string>;
  models: StudyModels;
  log: (line: string) => void;
}

function isForced(options: RunStudyOptions, stage: StudyStage): boolean {
  return options.force === true || (Array.isArray(options.force) && options.force.includes(stage));
}

/**
 * Why a configured stage needs no run: this shard finished it, every shard of a sharded run finished it
 * (recorded in pipeline.json here), or pipeline.json has it with these settings. Undefined: run it.
 */
async function findFinishedStage(run: StudyRunContext, stage: StudyStage): Promise<string | undefined> {
  const { experiment, shard, state, keys } = run;
  const forced = isForced(run.options, stage);
  if (shard) {
    const own = (await readShardRecords(experiment.directory, stage)).find(
      (record) => record.count === shard.count && record.index === shard.index,
    );
    return own?.key === keys[stage] && !forced
      ? `${stage}: shard ${formatWorkShard(shard)} finished ${own.completedAt}; skipped`
      : undefined;
  }
  const record = state.stages[stage];
  if (isCompletedByShards(stage) && record?.key !== keys[stage] && !forced) {
    // Every shard of a sharded run finished it with these settings: nothing left to do here.
    const { count } = completedShardCount(await readShardRecords(experiment.directory, stage), keys[stage]);
    if (count !== undefined) {
      state.stages[stage] = {
        key: keys[stage],
        completedAt: new Date().toISOString(),
        seconds: 0,
        summary: { shards: count },
      };
      await writePipelineState(experiment.directory, state);
      return `${stage}: finished by ${count} shards with these settings; skipped`;
    }
  }
  if (record?.key === keys[stage] && !forced)
    return `${stage}: finished ${record.completedAt} with these settings; skipped (--force ${stage} redoes it)`;
  return undefined;
}

/** Runs one stage and records it (pipeline.json, or the shard's record); a failing shard records why. */
async function runStage(run: StudyRunContext, stage: StudyStage): Promise<void> {
  const { experiment, options, shard, state, keys, models, log } = run;
  log(`${stage}: running${shard ? ` shard ${formatWorkShard(shard)}` : ''}`);
  const stageStarted = performance.now();
  let summary: StageSummary;
  try {
    summary = await stageRunners[stage]({
      experiment,
      models,
      force: isForced(options, stage),
      shard,
      progress: options.progress,
      lockWaitMs: options.lockWaitMs,
      log,
    });
  } catch (error) {
    if (TraitlensError.isInstance(error)) error.message = `${stage} stage: ${error.message}`;
    // `traitlens status` then lists this shard as failed, with the reason (a killed one is missing).
    if (shard)
      await writeShardFailure(experiment.directory, stage, shard, {
        key: keys[stage],
        failedAt: new Date().toISOString(),
        message: error instanceof Error ? error.message : String(error),
      }).catch(() => undefined);
    throw error;
  }
  const seconds = (performance.now() - stageStarted) / 1000;
  const finished = { key: keys[stage], completedAt: new Date().toISOString(), seconds, summary };
  if (shard) await writeShardRecord(experiment.directory, stage, shard, finished);
  else {
    state.stages[stage] = finished;
    await writePipelineState(experiment.directory, state);
  }
  log(`${stage}: done in ${seconds.toFixed(1)} s`);
}

/**
 * Runs the study's stages in order on one experiment folder: extract -> steer -> capture -> replay ->
 * label -> intervene -> analyze -> report. A stage whose settings match its record in
 * pipeline.json is skipped without loading a model; a stage that was interrupted resumes, since every
 * package stage skips the files it already finished.
 */
export async function runStudy(experiment: Experiment, options: RunStudyOptions = {}): Promise<StudyRun> {
  const started = performance.now();
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const shard = options.shard && options.shard.count > 1 ? options.shard : undefined;
  const selected = new Set(options.stages ?? (shard ? shardableStages : studyStages));
  if (shard) checkShardableStages(selected, shard);
  // Everything cheap before any model loads: data folders, prompt sets, item files, the judge's key.
  await checkStudyInputs(experiment, {
    stages: [...selected].filter((stage) => isStageConfigured(experiment.config, stage)),
  });
  await prepareExperimentFolder(experiment, log);
  const run: StudyRunContext = {
    experiment,
    options,
    shard,
    state: await readPipelineState(experiment.directory, experiment.file),
    keys: computeStudyStageKeys(experiment),
    models: new StudyModels(experiment, log, options.progress),
    log,
  };
  const ran: StudyStage[] = [];
  const skipped: StudyStage[] = [];
  try {
    for (const stage of studyStages) {
      if (!selected.has(stage)) continue;
      if (!isStageConfigured(experiment.config, stage)) {
        if (stage === 'label' && experiment.config.stages.analyze)
          log('label: no stages.label block; analysis runs the model diff without detection');
        skipped.push(stage);
        continue;
      }
      const finished = await findFinishedStage(run, stage);
      if (finished !== undefined) {
        log(finished);
        skipped.push(stage);
        continue;
      }
      await runStage(run, stage);
      ran.push(stage);
    }
  } finally {
    await run.models.dispose();
  }
  return { state: run.state, ran, skipped, seconds: (performance.now() - started) / 1000 };
}
