import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeJsonAtomic } from '@traitlens/core';
import type { ExperimentConfig } from '../config/experiment-config';

/** The stages of the study, in the order they run. */
export const studyStages = [
  'extract',
  'steer',
  'capture',
  'replay',
  'label',
  'intervene',
  'predictivity',
  'analyze',
  'report',
] as const;

export type StudyStage = (typeof studyStages)[number];

/**
 * Whether the config asks for a stage: each runs when its block is there (steer with extract, replay
 * with capture, report with analyze).
 */
export function isStageConfigured(config: ExperimentConfig, stage: StudyStage): boolean {
  const { stages } = config;
  switch (stage) {
    case 'extract':
    case 'steer':
      return stages.extract !== undefined;
    case 'capture':
    case 'replay':
      return stages.capture !== undefined;
    case 'analyze':
    case 'report':
      return stages.analyze !== undefined;
    default:
      return stages[stage] !== undefined;
  }
}

export interface StageRecord {
  /** Hash of everything the stage's outputs depend on (its settings, models and upstream keys). */
  key: string;
  completedAt: string;
  seconds: number;
  /** What the stage reports about its outputs (counts, files, warnings). */
  summary: Record<string, unknown>;
}

/** `<experiment>/pipeline.json`: which stages finished with which inputs. */
export interface PipelineState {
  format: 'traitlens.pipeline';
  formatVersion: '1';
  config: string;
  stages: Partial<Record<StudyStage, StageRecord>>;
}

/** A stable hash of a JSON value (object keys sorted), so reordering a YAML block changes nothing. */
export function computeStageKey(value: unknown): string {
  const canonical = (item: unknown): unknown => {
    if (Array.isArray(item)) return item.map(canonical);
    if (item !== null && typeof item === 'object')
      return Object.fromEntries(
        Object.keys(item)
          .sort()
          .map((key) => [key, canonical((item as Record<string, unknown>)[key])]),
      );
    return item;
  };
  return createHash('sha256')
    .update(JSON.stringify(canonical(value)))
    .digest('hex')
    .slice(0, 16);
}

export function pipelineStatePath(experimentDirectory: string): string {
  return join(experimentDirectory, 'pipeline.json');
}

export async function readPipelineState(
  experimentDirectory: string,
  configFile: string,
): Promise<PipelineState> {
  try {
    const state = JSON.parse(await readFile(pipelineStatePath(experimentDirectory), 'utf8')) as PipelineState;
    if (state.format === 'traitlens.pipeline' && state.stages) return state;
  } catch {
    // No state yet (or an unreadable one): every stage runs, and each skips the files it already finished.
  }
  return {
    format: 'traitlens.pipeline',
    formatVersion: '1',
    config: configFile,
    stages: {},
  };
}

export async function writePipelineState(experimentDirectory: string, state: PipelineState): Promise<void> {
  await writeJsonAtomic(pipelineStatePath(experimentDirectory), state);
}
